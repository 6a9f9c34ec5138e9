// UTF-8 decoding and encoding for the tokenizer and the request boundary.
//
// Invalid input is handled by an explicit policy, chosen by the caller:
//  - kStrict: the first ill-formed byte sequence throws edgeroute::Error with
//    its byte offset; nothing is returned.
//  - kReplace: every maximal ill-formed subpart becomes U+FFFD, exactly as
//    Python's bytes.decode("utf-8", errors="replace") does (Unicode 15,
//    section 3.9, "U+FFFD Substitution of Maximal Subparts"). Hugging Face
//    tokenizers only ever sees Python str, so this is what a Python pipeline
//    that decodes with errors="replace" feeds it.
// Well-formed means the byte sequences of Unicode Table 3-7: no overlong
// forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace edgeroute::text {

enum class Utf8Policy { kStrict, kReplace };

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Appends the code points of `in` to `out` (not cleared). `what` names the
// input in error messages (e.g. "input line 7").
void decode_utf8(std::string_view in, Utf8Policy policy, std::u32string& out, std::string_view what = "text");

// Byte offset of the first ill-formed sequence, or nullopt if `in` is valid.
std::optional<std::size_t> find_invalid_utf8(std::string_view in);

// Appends the UTF-8 encoding of `cp` (must be a Unicode scalar value).
void append_utf8(char32_t cp, std::string& out);

std::string encode_utf8(std::u32string_view in);

}  // namespace edgeroute::text
