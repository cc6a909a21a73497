#pragma once
// Randomness for minted identifiers (user ids, event ids, default user names). The
// generators live in common/random.h (telemetry mints trace and span ids with them too); the
// domain names them here.
#include "common/random.h"

namespace userservice::domain {

using common::RandomSource;
using common::Xoshiro256Random;

using common::assign_random_hex_id;
using common::random_hex_id;
using common::thread_random;
using common::uniform_below;

}  // namespace userservice::domain
