#pragma once

// Chat calls whose answers can be told apart: the fake target answers each
// with its model and the caller's own message, so a caller can check that
// the answer it got is the one to its own request.

#include "concurrent_callers.hpp"

#include <string>

namespace foreman_loadgen {

/// POST /api/chat with one user message; `stream` false asks for one JSON
/// object, true for NDJSON chunks.
http_call chat_call(const std::string& model, const std::string& message,
                    bool stream = false);

/// What foreman-fake-ollama answers to a chat: "<model> says: <message>"
/// (for a message whose words are separated by single spaces).
std::string fake_target_reply(const std::string& model, const std::string& message);

/// Empty when `result` is a 200 whose chat answer (one object, or the
/// NDJSON chunks of a stream up to `done`) carries `expected_content`;
/// otherwise what is wrong with it, for a failure report.
std::string chat_answer_problem(const call_result& result,
                                const std::string& expected_content, bool streamed = false);

} // namespace foreman_loadgen
