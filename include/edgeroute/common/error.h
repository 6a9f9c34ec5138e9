// Error type shared by every edgeroute library.
//
// Errors that come from input (files, requests, command lines) are reported by
// throwing edgeroute::Error with a message that names the offending file,
// field and value, so that a user can act on it without a debugger. Asserts are
// reserved for programmer errors and are never reachable from input.
#pragma once

#include <stdexcept>
#include <string>

namespace edgeroute {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace edgeroute
