#pragma once
// Stores that end a fuzzed request where the service would first do I/O: every call throws
// StoreReached. What a fuzz target exercises is everything before that point — parsing,
// routing, body decoding, validation and the services' own decisions.
#include <exception>
#include <memory>

#include "services/command_store.h"
#include "services/idempotency.h"
#include "services/listing_store.h"
#include "services/user_store.h"

namespace userservice::fuzz {

struct StoreReached : std::exception {
  const char* what() const noexcept override { return "store reached"; }
};

std::unique_ptr<services::UserStore> make_stub_user_store();
std::unique_ptr<services::CommandStore> make_stub_command_store();
std::unique_ptr<services::ListingStore> make_stub_listing_store();
// begin() hands out a call that never claims its key (state unused), so the keyed handler
// runs exactly as an unkeyed one would up to its first statement.
std::unique_ptr<services::IdempotencyStore> make_stub_idempotency_store();

}  // namespace userservice::fuzz
