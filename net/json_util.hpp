#pragma once

// JSON helpers shared by foreman's HTTP mapping: reading Poco's JSON values
// without exceptions, and writing JSON text the same way everywhere.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

namespace foreman::net {

using object_ptr = Poco::JSON::Object::Ptr;
using array_ptr = Poco::JSON::Array::Ptr;

// -- reading ------------------------------------------------------------------

enum class json_type { null, boolean, integer, number, string, object, array };

json_type type_of(const Poco::Dynamic::Var& value);

/// An integer or any other number.
bool is_number(const Poco::Dynamic::Var& value);

/// Whether `text` is padded standard base64 as Go's decoder reads it, line
/// breaks skipped.
bool is_base64(std::string_view text);

/// Parses JSON text, keeping each object's key order so that what goes back
/// out (payloads, tool arguments, schemas) reads as the sender wrote it.
/// Throws Poco::Exception on bad JSON.
Poco::Dynamic::Var parse_json(std::string_view text);

/// JSON text that must be an object; nullptr otherwise, with the reason
/// ("invalid JSON: ..." or "request body must be a JSON object") in `why`
/// when given.
object_ptr parse_object(std::string_view text, std::string* why = nullptr);

/// A member of `obj` (null when `obj` is null or has no such member).
Poco::Dynamic::Var field(const object_ptr& obj, const std::string& key);

/// A member of its type; "", 0, false or nullptr when absent or of another
/// type.
std::string string_field(const object_ptr& obj, const std::string& key);
int64_t int_field(const object_ptr& obj, const std::string& key);
bool bool_field(const object_ptr& obj, const std::string& key);
object_ptr object_field(const object_ptr& obj, const std::string& key);
array_ptr array_field(const object_ptr& obj, const std::string& key);

// -- writing ------------------------------------------------------------------

/// `text` as a JSON string literal, quotes included. Escapes control
/// characters and U+2028/U+2029, which line-splitting clients treat as line
/// breaks.
std::string json_quote(std::string_view text);

/// The shortest decimal text that reads back as the same double.
std::string format_double(double x);

/// `value` as JSON text: strings escaped by json_quote, numbers in their
/// shortest form, objects in their key order.
std::string to_json(const Poco::Dynamic::Var& value);

/// Builds a JSON object from already-encoded member values, in order.
class object_writer {
public:
  object_writer& add(std::string_view key, std::string_view json_value);
  object_writer& add_string(std::string_view key, std::string_view value);
  std::string done() const;

private:
  std::string text_ = "{";
};

/// Already-encoded JSON as it is, or null when `json` is empty.
std::string json_or_null(const std::string& json);

/// A JSON array of already-encoded items.
std::string join_array(const std::vector<std::string>& items);

/// Ollama's error body: {"error":"..."}.
std::string error_json(std::string_view message);

/// `bytes` in standard base64, on one line.
std::string base64(std::string_view bytes);

// -- times --------------------------------------------------------------------

/// Unix milliseconds as RFC 3339 UTC with milliseconds, e.g.
/// 2026-01-02T03:04:05.678Z.
std::string rfc3339_utc(int64_t unix_ms);

/// An RFC 3339 time (any fraction length, Z or ±hh:mm) as Unix
/// milliseconds; nullopt when the text is not a time.
std::optional<int64_t> parse_rfc3339_ms(const std::string& text);

} // namespace foreman::net
