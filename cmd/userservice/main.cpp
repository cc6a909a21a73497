// userservice: owns every player account. See docs/architecture.md; `userservice --help`.
#include "app/cli.h"
#include "build_info.h"

int main(int argc, char** argv) {
  return userservice::app::main(argc, argv,
                                {.version = USERSERVICE_VERSION,
                                 .git_commit = USERSERVICE_GIT_COMMIT,
                                 .build_type = USERSERVICE_BUILD_TYPE});
}
