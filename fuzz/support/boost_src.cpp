// Boost.JSON and Boost.URL compiled into the fuzz build from their headers, so their parsers
// are instrumented like the rest (the packaged shared libraries are not).
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
