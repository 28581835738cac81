#pragma once

// Translation between OpenAI's /v1 API and Ollama's native API, the way
// Ollama's own compatibility layer does it (ollama-api.md §11): /v1 requests
// become native job payloads (openai_request.hpp), native replies and NDJSON
// chunks become OpenAI objects and SSE events (openai_response.hpp).

#include "net/openai_request.hpp"
#include "net/openai_response.hpp"
