# One static library per layer of src/ (docs/architecture.md, "Layers").
#
#   userservice_layer(<name> DIRS <folder>... [FILES <file>...] [EXCLUDE <regex>]
#                     [LAYERS <layer>...] [LIBS <target>...])
#
# builds `userservice_<name>` from the .cpp files under src/<folder> (and the listed single
# src/ files), minus those matching EXCLUDE, and links PUBLIC the layers it may use (LAYERS)
# and the third-party libraries it uses (LIBS).
#
# The enforcement: src/ is nobody's include directory. Each layer gets its own include root,
# ${CMAKE_BINARY_DIR}/include/<name>, holding a symbolic link `<folder>` -> src/<folder>
# (or `<file>` -> src/<file>) and nothing else, as its PUBLIC include directory. A source
# therefore finds "<folder>/x.h" only when its layer is, or links, the layer that owns
# <folder>: `#include "adapters/http/router.h"` in src/services fails to compile.
# The links are made at configure time; the ctest entry `layers_enforced` checks both ways.

set(USERSERVICE_INCLUDE_ROOT ${CMAKE_BINARY_DIR}/include)
set_property(GLOBAL PROPERTY USERSERVICE_LAYERED_SOURCES "")

function(_userservice_expose root path)
  set(link ${root}/${path})
  get_filename_component(parent ${link} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  if(IS_SYMLINK ${link})
    file(REMOVE ${link})  # the link only, never what it points to
  endif()
  file(CREATE_LINK ${CMAKE_SOURCE_DIR}/src/${path} ${link} SYMBOLIC)
endfunction()

function(userservice_layer name)
  cmake_parse_arguments(PARSE_ARGV 1 L "" "EXCLUDE" "DIRS;FILES;LAYERS;LIBS")
  set(root ${USERSERVICE_INCLUDE_ROOT}/${name})
  set(sources "")
  foreach(dir IN LISTS L_DIRS)
    file(GLOB_RECURSE found CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/${dir}/*.cpp)
    list(APPEND sources ${found})
    _userservice_expose(${root} ${dir})
  endforeach()
  foreach(file IN LISTS L_FILES)
    if(file MATCHES "\\.cpp$")
      list(APPEND sources ${CMAKE_SOURCE_DIR}/src/${file})
    else()
      _userservice_expose(${root} ${file})
    endif()
  endforeach()
  if(L_EXCLUDE)
    list(FILTER sources EXCLUDE REGEX "${L_EXCLUDE}")
  endif()
  set_property(GLOBAL APPEND PROPERTY USERSERVICE_LAYERED_SOURCES ${sources})

  add_library(userservice_${name} STATIC ${sources})
  target_include_directories(userservice_${name} PUBLIC ${root})
  list(TRANSFORM L_LAYERS PREPEND userservice_)
  target_link_libraries(userservice_${name} PUBLIC ${L_LAYERS} ${L_LIBS})
endfunction()

# Every .cpp under src/ must belong to exactly one layer: a new folder that no layer names
# would otherwise be silently left out of the build.
function(userservice_check_layers_cover_src)
  file(GLOB_RECURSE all CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/*.cpp)
  get_property(layered GLOBAL PROPERTY USERSERVICE_LAYERED_SOURCES)
  list(LENGTH layered n_listed)
  list(REMOVE_DUPLICATES layered)
  list(LENGTH layered n_distinct)
  if(NOT n_listed EQUAL n_distinct)
    message(FATAL_ERROR "a source file is in two layers (CMakeLists.txt, userservice_layer)")
  endif()
  list(REMOVE_ITEM all ${layered})
  if(all)
    string(REPLACE ";" "\n  " all "${all}")
    message(FATAL_ERROR "src/ files in no layer (add their folder to a layer in "
                        "CMakeLists.txt, docs/architecture.md \"Layers\"):\n  ${all}")
  endif()
endfunction()
