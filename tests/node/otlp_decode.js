// node otlp_decode.js traces|metrics FILE — prints the OTLP export request in FILE (protobuf, as sent
// over OTLP/HTTP) as JSON, decoded by the OpenTelemetry JS project's generated protobuf code
// (@opentelemetry/otlp-transformer, built from opentelemetry-proto). Ids are lower-case hex,
// 64-bit integers decimal strings, enums their proto names. Exit 1 with the reason on stderr
// when the bytes are not a valid message of that type.
'use strict';
const fs = require('fs');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const [kind, file] = process.argv.slice(2);
const types = {
  traces: root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest,
  metrics: root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest,
};
const type = types[kind];
if (!type || !file) {
  process.stderr.write('usage: node otlp_decode.js traces|metrics FILE\n');
  process.exit(2);
}
try {
  const message = type.decode(fs.readFileSync(file));
  const problem = type.verify(message);
  if (problem) throw new Error(problem);
  const object = type.toObject(message, {longs: String, enums: String, bytes: String, defaults: true});
  // bytes come out as base64: ids are shown as hex, as OTLP/JSON and the W3C headers write them.
  const hex = (o) => {
    if (Array.isArray(o)) return o.forEach(hex);
    if (o && typeof o === 'object') {
      for (const k of Object.keys(o)) {
        if ((k === 'traceId' || k === 'spanId' || k === 'parentSpanId') && typeof o[k] === 'string') {
          o[k] = Buffer.from(o[k], 'base64').toString('hex');
        } else {
          hex(o[k]);
        }
      }
    }
  };
  hex(object);
  process.stdout.write(JSON.stringify(object));
} catch (e) {
  process.stderr.write(`not a valid ${kind} export request: ${e.message}\n`);
  process.exit(1);
}
