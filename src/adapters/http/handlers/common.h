#pragma once
// Small pieces every handler file uses: body decoding of the common command fields.
#include <string>

#include "adapters/http/json_body.h"
#include "adapters/http/message.h"
#include "domain/catalog.h"

namespace userservice::http {

// "actor": {"type": "...", "id": "..."} — both strings, nothing else.
inline domain::Actor read_actor(ObjectReader& body) {
  ObjectReader r = body.required_object("actor");
  domain::Actor actor{r.required_string("type"), r.required_string("id")};
  r.finish();
  return actor;
}

}  // namespace userservice::http
