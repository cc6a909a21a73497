// node openapi_validate.js [--expect-all-to-fail] OPENAPI_YAML EXCHANGES_JSONL
//
// Checks HTTP exchanges (one JSON object per line: method, target, request_headers,
// request_body, status, response_headers, response_body — written by the test suite's
// HttpClient when USERSERVICE_EXCHANGE_LOG is set) against an OpenAPI 3.1 document, with
// Ajv (JSON Schema 2020-12) fed from the document itself:
//
//  - the route: the request's path and method select an operation (literal segments win over
//    parameters, as in the service's router). An unknown path must be answered 404 and an
//    unknown method 405, both with the document's Error body;
//  - the response: its status must be one the operation lists (or `default`); its body must
//    match that response's schema, or be empty when the response has no content; every
//    response carries X-Request-Id;
//  - the request, when the service accepted it (2xx): path parameters, query parameters (no
//    undeclared ones) and the JSON body must match the operation's declarations. Rejected
//    requests are malformed on purpose (the hostile-input tests); what the document must
//    describe for them is the rejection.
//
// Exit 0 when every exchange conforms (and there was at least one), 1 otherwise, listing the
// failures. With --expect-all-to-fail (the validator's own test), exit 0 only when every
// exchange fails.
'use strict';
const fs = require('fs');
const YAML = require('yaml');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

const args = process.argv.slice(2);
const expectAllToFail = args[0] === '--expect-all-to-fail';
if (expectAllToFail) args.shift();
if (args.length !== 2) {
  process.stderr.write('usage: node openapi_validate.js [--expect-all-to-fail] OPENAPI_YAML EXCHANGES_JSONL\n');
  process.exit(2);
}
const doc = YAML.parse(fs.readFileSync(args[0], 'utf8'));
const lines = fs.readFileSync(args[1], 'utf8').split('\n').filter((l) => l.trim() !== '');

const ajv = new Ajv2020({strict: false, allErrors: true, validateSchema: false});
addFormats(ajv);
ajv.addSchema(doc, 'openapi.json');
const coercing = new Ajv2020({strict: false, coerceTypes: true, validateSchema: false});
addFormats(coercing);
coercing.addSchema(doc, 'openapi.json');

const pointer = (parts) => '#/' + parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const validators = new Map();
function validatorAt(instance, location) {
  const key = (instance === coercing ? 'c' : 'v') + location;
  if (!validators.has(key)) validators.set(key, instance.compile({$ref: 'openapi.json' + location}));
  return validators.get(key);
}
// Follows an OpenAPI $ref ("#/components/...") to the object and its location.
function deref(obj, location) {
  while (obj && typeof obj.$ref === 'string' && obj.$ref.startsWith('#/')) {
    location = obj.$ref;
    obj = obj.$ref.slice(2).split('/').reduce((o, p) => o[p.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return [obj, location];
}
const describe = (errors) => (errors || []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');

// Routes: path templates as regexes, most literal first.
const routes = Object.keys(doc.paths).map((template) => {
  const segments = template.split('/').slice(1);
  const names = [];
  const re = new RegExp('^/' + segments.map((s) => {
    const m = /^\{(.+)\}$/.exec(s);
    // [^/]* : the service's router matches an empty segment too (and answers 400 for it).
    if (m) { names.push(m[1]); return '([^/]*)'; }
    return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }).join('/') + '$');
  return {template, re, names, literals: segments.filter((s) => !s.startsWith('{')).length};
}).sort((a, b) => b.literals - a.literals);
const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function decode(text) {
  try { return decodeURIComponent(text); } catch (e) { return null; }
}

function check(x) {
  const problems = [];
  const q = x.target.indexOf('?');
  const path = q < 0 ? x.target : x.target.slice(0, q);
  const query = q < 0 ? '' : x.target.slice(q + 1);
  const header = (name) => (x.response_headers || {})[name];
  if (!header('x-request-id')) problems.push('response without X-Request-Id');
  let body;
  const parseBody = () => {
    if (body !== undefined) return body;
    try { body = JSON.parse(x.response_body); } catch (e) { body = null; problems.push(`response body is not JSON: ${x.response_body.slice(0, 80)}`); }
    return body;
  };
  const expectError = (status, why) => {
    if (x.status !== status) { problems.push(`${why}: expected ${status}, got ${x.status}`); return; }
    const v = validatorAt(ajv, '#/components/schemas/Error');
    if (parseBody() !== null && !v(body)) problems.push(`${status} body does not match Error: ${describe(v.errors)}`);
  };

  const matching = routes.filter((r) => r.re.test(path));
  if (matching.length === 0) { expectError(404, `no path of the document matches ${path}`); return {problems}; }
  const method = x.method === 'HEAD' ? 'get' : x.method.toLowerCase();
  const route = matching.find((r) => doc.paths[r.template][method]);
  if (!route) {
    expectError(405, `${x.method} is not an operation of ${matching[0].template}`);
    if (x.status === 405 && !header('allow')) problems.push('405 without Allow');
    return {problems};
  }
  const item = doc.paths[route.template];
  const op = item[method];
  const opLocation = pointer(['paths', route.template, method]);
  const operation = `${method.toUpperCase()} ${route.template}`;

  // The response.
  const statusKey = Object.prototype.hasOwnProperty.call(op.responses, String(x.status)) ? String(x.status)
    : Object.prototype.hasOwnProperty.call(op.responses, 'default') ? 'default' : null;
  if (statusKey === null) {
    problems.push(`status ${x.status} is not a response of ${operation} (documented: ${Object.keys(op.responses).join(', ')})`);
  } else {
    const [response, location] = deref(op.responses[statusKey], opLocation + '/responses/' + statusKey);
    const media = response.content && (response.content['application/json'] || Object.values(response.content)[0]);
    if (!media) {
      if (x.response_body !== '' && x.method !== 'HEAD') problems.push(`${x.status} has a body the document does not describe`);
    } else if (x.method !== 'HEAD') {
      const mediaKey = response.content['application/json'] ? 'application/json' : Object.keys(response.content)[0];
      const v = validatorAt(ajv, location + pointer(['content', mediaKey, 'schema']).slice(1));
      if (parseBody() !== null && !v(body)) problems.push(`${x.status} body does not match ${operation}: ${describe(v.errors)}`);
    }
  }

  // The request, when accepted.
  if (x.status >= 200 && x.status < 300) {
    const pathLocation = pointer(['paths', route.template]);
    const params = [
      ...(item.parameters || []).map((p, i) => deref(p, pathLocation + '/parameters/' + i)),
      ...(op.parameters || []).map((p, i) => deref(p, opLocation + '/parameters/' + i)),
    ].map(([param, location]) => Object.assign({}, param, {location}));
    // A parameter's schema, compiled where it stands in the document (its $refs resolve).
    const paramValidator = (p) => validatorAt(coercing, '#' + p.location.slice(1) + '/schema');
    const wrapped = new Map();
    const queryValidator = (p) => {
      if (!wrapped.has(p.location)) {
        wrapped.set(p.location, coercing.compile({type: 'object', properties: {v: {$ref: 'openapi.json' + p.location + '/schema'}}}));
      }
      return wrapped.get(p.location);
    };
    const m = route.re.exec(path);
    route.names.forEach((name, i) => {
      const p = params.find((pp) => pp.in === 'path' && pp.name === name);
      if (!p) { problems.push(`path parameter ${name} is not declared`); return; }
      const value = decode(m[i + 1]);
      const v = paramValidator(p);
      if (value === null || !v(value)) problems.push(`path parameter ${name}=${m[i + 1]} does not match its schema`);
    });
    const seen = new Set();
    for (const pair of query.split('&').filter((s) => s !== '')) {
      const eq = pair.indexOf('=');
      const name = decode(eq < 0 ? pair : pair.slice(0, eq));
      const value = decode(eq < 0 ? '' : pair.slice(eq + 1));
      const p = params.find((pp) => pp.in === 'query' && pp.name === name);
      if (!p) { problems.push(`query parameter ${name} is not declared`); continue; }
      seen.add(name);
      const holder = {v: value};
      const v = queryValidator(p);
      if (!v(holder)) problems.push(`query parameter ${name}=${value} does not match its schema: ${describe(v.errors)}`);
    }
    for (const p of params) {
      if (p.in === 'query' && p.required && !seen.has(p.name)) problems.push(`required query parameter ${p.name} missing`);
    }
    if (op.requestBody) {
      const [rb, location] = deref(op.requestBody, opLocation + '/requestBody');
      if (x.request_body === '') {
        if (rb.required) problems.push('accepted without the required body');
      } else {
        let parsed;
        try { parsed = JSON.parse(x.request_body); } catch (e) { problems.push('accepted a body that is not JSON'); }
        if (parsed !== undefined) {
          const v = validatorAt(ajv, location + pointer(['content', 'application/json', 'schema']).slice(1));
          if (!v(parsed)) problems.push(`accepted a body the document rejects: ${describe(v.errors)}`);
        }
      }
    }
  }
  return {problems, operation};
}

let failures = 0;
const byOperation = new Map();
const report = [];
lines.forEach((line, i) => {
  let x;
  try { x = JSON.parse(line); } catch (e) { failures++; report.push(`line ${i + 1}: not JSON`); return; }
  const {problems, operation} = check(x);
  if (operation) byOperation.set(operation, (byOperation.get(operation) || 0) + 1);
  if (problems.length > 0) {
    failures++;
    if (report.length < 40) report.push(`line ${i + 1}: ${x.method} ${x.target} -> ${x.status}\n    ${problems.join('\n    ')}`);
  }
});

if (expectAllToFail) {
  process.stdout.write(`${failures} of ${lines.length} deliberately wrong exchanges rejected\n`);
  if (report.length) process.stdout.write(report.join('\n') + '\n');
  process.exit(failures === lines.length && lines.length > 0 ? 0 : 1);
}
const operations = Object.values(doc.paths).reduce((n, item) => n + methods.filter((m) => item[m]).length, 0);
process.stdout.write(`${lines.length} exchanges checked against ${args[0]}: ${failures} failed; ` +
  `${byOperation.size} of ${operations} operations exercised\n`);
const unexercised = [];
for (const [template, item] of Object.entries(doc.paths)) {
  for (const m of methods) if (item[m] && !byOperation.has(`${m.toUpperCase()} ${template}`)) unexercised.push(`${m.toUpperCase()} ${template}`);
}
if (unexercised.length) process.stdout.write(`not exercised: ${unexercised.join(', ')}\n`);
if (report.length) process.stdout.write(report.join('\n') + '\n');
process.exit(failures === 0 && lines.length > 0 ? 0 : 1);
