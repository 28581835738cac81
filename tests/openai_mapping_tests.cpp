#define BOOST_TEST_MODULE openai_mapping_tests
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include <Poco/Base64Decoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "net/api_mapping.hpp"
#include "net/openai_mapping.hpp"

using namespace foreman;
using namespace foreman::net::openai;
using object_ptr = Poco::JSON::Object::Ptr;
using array_ptr = Poco::JSON::Array::Ptr;

namespace {

object_ptr parse(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<object_ptr>();
}

native_request
accepted(const std::variant<native_request, net::request_problem>& result) {
  if (auto* problem = std::get_if<net::request_problem>(&result))
    BOOST_FAIL("refused: " << problem->status << " " << problem->message);
  return std::get<native_request>(result);
}

net::request_problem
refused(const std::variant<native_request, net::request_problem>& result) {
  if (auto* request = std::get_if<native_request>(&result))
    BOOST_FAIL("accepted: " << request->payload);
  return std::get<net::request_problem>(result);
}

object_ptr chat_payload(const std::string& body) {
  return parse(accepted(parse_chat_request(body)).payload);
}

/// The JSON of each SSE event, checking the framing of every one.
std::vector<std::string> events(const std::string& stream) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < stream.size()) {
    auto end = stream.find("\n\n", at);
    BOOST_REQUIRE(end != std::string::npos);
    auto event = stream.substr(at, end - at);
    BOOST_REQUIRE_EQUAL(event.substr(0, 6), "data: ");
    BOOST_REQUIRE(event.find('\n') == std::string::npos);
    out.push_back(event.substr(6));
    at = end + 2;
  }
  return out;
}

object_ptr delta_of(const std::string& event) {
  return parse(event)->getArray("choices")->getObject(0)->getObject("delta");
}

std::string finish_of(const std::string& event) {
  auto choice = parse(event)->getArray("choices")->getObject(0);
  return choice->isNull("finish_reason")
             ? "null"
             : choice->getValue<std::string>("finish_reason");
}

const std::string minimal_chat =
    R"({"model":"llama3.2","messages":[{"role":"user","content":"Hi"}]})";

} // namespace

// -- chat requests ------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(chat_requests)

BOOST_AUTO_TEST_CASE(minimal_request_becomes_a_non_streamed_native_chat) {
  auto request = accepted(parse_chat_request(minimal_chat));
  BOOST_TEST((request.kind == job_kind::chat));
  BOOST_TEST(request.model == "llama3.2");
  BOOST_TEST(!request.stream);
  BOOST_TEST(!request.include_usage);
  BOOST_TEST(!request.base64_embeddings);
  auto payload = parse(request.payload);
  BOOST_TEST(payload->getValue<std::string>("model") == "llama3.2");
  BOOST_TEST(payload->getValue<bool>("stream") == false);
  BOOST_TEST(!payload->has("keep_alive"));
  BOOST_TEST(!payload->has("format"));
  BOOST_TEST(!payload->has("think"));
  BOOST_TEST(!payload->has("tools"));
  auto messages = payload->getArray("messages");
  BOOST_REQUIRE_EQUAL(messages->size(), 1u);
  BOOST_TEST(messages->getObject(0)->getValue<std::string>("role") == "user");
  BOOST_TEST(messages->getObject(0)->getValue<std::string>("content") == "Hi");
  // Ollama's compat layer pins these two rather than using the model's defaults.
  auto options = payload->getObject("options");
  BOOST_TEST(options->getValue<double>("temperature") == 1.0);
  BOOST_TEST(options->getValue<double>("top_p") == 1.0);
  BOOST_TEST(options->size() == 2u);
}

BOOST_AUTO_TEST_CASE(stream_and_include_usage_are_read) {
  auto request = accepted(parse_chat_request(
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,
          "stream_options":{"include_usage":true}})"));
  BOOST_TEST(request.stream);
  BOOST_TEST(request.include_usage);
  BOOST_TEST(parse(request.payload)->getValue<bool>("stream") == true);
  auto plain = accepted(parse_chat_request(
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream":null,"stream_options":null})"));
  BOOST_TEST(!plain.stream);
  BOOST_TEST(!plain.include_usage);
  BOOST_TEST(
      refused(
          parse_chat_request(
              R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"})"))
          .status
      == 400);
}

BOOST_AUTO_TEST_CASE(messages_are_required_and_non_empty) {
  for (auto body : {R"({"model":"m"})", R"({"model":"m","messages":[]})",
                    R"({"model":"m","messages":null})"}) {
    auto problem = refused(parse_chat_request(body));
    BOOST_TEST(problem.status == 400);
    BOOST_TEST(problem.message == "[] is too short - 'messages'");
  }
  BOOST_TEST(refused(parse_chat_request(R"({"model":"m","messages":"hi"})")).status
             == 400);
  BOOST_TEST(refused(parse_chat_request(R"({"model":"m","messages":[1]})")).status
             == 400);
  BOOST_TEST(
      refused(parse_chat_request(R"({"model":"m","messages":[{"content":"x"}]})"))
          .status
      == 400);
}

BOOST_AUTO_TEST_CASE(model_is_required) {
  for (auto body : {R"({"messages":[{"role":"user","content":"x"}]})",
                    R"({"model":"","messages":[{"role":"user","content":"x"}]})"}) {
    auto problem = refused(parse_chat_request(body));
    BOOST_TEST(problem.status == 400);
    BOOST_TEST(problem.message == "model is required");
  }
  BOOST_TEST(refused(parse_chat_request(
                         R"({"model":7,"messages":[{"role":"user","content":"x"}]})"))
                 .status
             == 400);
}

BOOST_AUTO_TEST_CASE(bad_bodies_are_refused_with_a_clear_message) {
  auto empty = refused(parse_chat_request(""));
  BOOST_TEST(empty.status == 400);
  BOOST_TEST(empty.message == "missing request body");
  auto broken = refused(parse_chat_request(R"({"model":)"));
  BOOST_TEST(broken.status == 400);
  BOOST_TEST(broken.message.rfind("invalid JSON", 0) == 0);
  auto array = refused(parse_chat_request("[1,2]"));
  BOOST_TEST(array.status == 400);
  BOOST_TEST(array.message == "request body must be a JSON object");
  BOOST_TEST(refused(parse_completion_request("  ")).message == "missing request body");
  BOOST_TEST(refused(parse_embeddings_request("nope")).status == 400);
}

BOOST_AUTO_TEST_CASE(sampling_fields_become_native_options) {
  auto options =
      chat_payload(R"({"model":"m","messages":[{"role":"user","content":"x"}],
      "max_tokens":100,"temperature":0.25,"top_p":0.5,"seed":42,"stop":"END",
      "frequency_penalty":0.5,"presence_penalty":-1})")
          ->getObject("options");
  BOOST_TEST(options->getValue<int>("num_predict") == 100);
  BOOST_TEST(!options->has("max_tokens"));
  BOOST_TEST(options->getValue<double>("temperature") == 0.25);
  BOOST_TEST(options->getValue<double>("top_p") == 0.5);
  BOOST_TEST(options->getValue<int>("seed") == 42);
  BOOST_TEST(options->getValue<double>("frequency_penalty") == 0.5);
  BOOST_TEST(options->getValue<double>("presence_penalty") == -1.0);
  auto stop = options->getArray("stop");
  BOOST_REQUIRE_EQUAL(stop->size(), 1u);
  BOOST_TEST(stop->getElement<std::string>(0) == "END");

  auto stops = chat_payload(R"({"model":"m","messages":[{"role":"user","content":"x"}],
      "stop":["a","b"]})")
                   ->getObject("options")
                   ->getArray("stop");
  BOOST_REQUIRE_EQUAL(stops->size(), 2u);
  BOOST_TEST(stops->getElement<std::string>(1) == "b");
}

BOOST_AUTO_TEST_CASE(wrongly_typed_sampling_fields_are_refused) {
  for (auto extra :
       {R"("max_tokens":"10")", R"("max_tokens":1.5)", R"("temperature":"hot")",
        R"("seed":true)", R"("stop":5)", R"("stop":["a",1])", R"("top_p":[1])"}) {
    auto body =
        std::string{R"({"model":"m","messages":[{"role":"user","content":"x"}],)"}
        + extra + "}";
    BOOST_TEST(refused(parse_chat_request(body)).status == 400, extra);
  }
}

BOOST_AUTO_TEST_CASE(response_format_becomes_native_format) {
  auto json = chat_payload(R"({"model":"m","messages":[{"role":"user","content":"x"}],
      "response_format":{"type":"json_object"}})");
  BOOST_TEST(json->getValue<std::string>("format") == "json");
  auto request = accepted(parse_chat_request(
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":
      {"type":"json_schema","json_schema":{"name":"n","schema":{"type":"object","properties":
      {"zeta":{"type":"string"},"alpha":{"type":"integer"}}}}}})"));
  auto schema = parse(request.payload)->getObject("format");
  BOOST_TEST(schema->getValue<std::string>("type") == "object");
  BOOST_TEST(
      schema->getObject("properties")->getObject("alpha")->getValue<std::string>("type")
      == "integer");
  // The schema goes out in the caller's key order.
  BOOST_TEST(request.payload.find("\"zeta\"") < request.payload.find("\"alpha\""));
  auto text = chat_payload(R"({"model":"m","messages":[{"role":"user","content":"x"}],
      "response_format":{"type":"text"}})");
  BOOST_TEST(!text->has("format"));
}

BOOST_AUTO_TEST_CASE(tools_pass_through) {
  auto payload =
      chat_payload(R"({"model":"m","messages":[{"role":"user","content":"x"}],
      "tools":[{"type":"function","function":{"name":"get_weather","description":"d",
      "parameters":{"type":"object","required":["city"],"properties":{"city":{"type":"string"}}}}}]})");
  auto tool = payload->getArray("tools")->getObject(0);
  BOOST_TEST(tool->getValue<std::string>("type") == "function");
  BOOST_TEST(tool->getObject("function")->getValue<std::string>("name")
             == "get_weather");
  BOOST_TEST(tool->getObject("function")
                 ->getObject("parameters")
                 ->getArray("required")
                 ->getElement<std::string>(0)
             == "city");
  BOOST_TEST(
      refused(
          parse_chat_request(
              R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":{}})"))
          .status
      == 400);
}

BOOST_AUTO_TEST_CASE(reasoning_effort_maps_to_think) {
  struct {
    const char* effort;
    const char* think;
  } cases[] = {{"minimal", "low"}, {"low", "low"}, {"medium", "medium"},
               {"high", "high"},   {"max", "max"}, {"xhigh", "max"},
               {"ultra", "max"}};
  for (auto c : cases) {
    auto payload = chat_payload(
        std::string{
            R"({"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":")"}
        + c.effort + "\"}");
    BOOST_TEST(payload->getValue<std::string>("think") == c.think, c.effort);
  }
  auto none = chat_payload(
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"none"})");
  BOOST_TEST(none->get("think").isBoolean());
  BOOST_TEST(none->getValue<bool>("think") == false);
  auto nested = chat_payload(
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"reasoning":{"effort":"ultra"},
          "reasoning_effort":"low"})");
  BOOST_TEST(nested->getValue<std::string>("think") == "max");
  auto problem = refused(parse_chat_request(
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"extreme"})"));
  BOOST_TEST(problem.status == 400);
  BOOST_TEST(problem.message.find("invalid reasoning value: 'extreme'") == 0);
  BOOST_TEST(
      refused(
          parse_chat_request(
              R"({"model":"m","messages":[{"role":"user","content":"x"}],"reasoning":{"effort":"huge"}})"))
          .status
      == 400);
}

BOOST_AUTO_TEST_CASE(content_parts_become_native_messages_with_raw_base64_images) {
  auto messages = chat_payload(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"text","text":"What is this?"},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]})")
                      ->getArray("messages");
  // Like Ollama, each part is a message of its own.
  BOOST_REQUIRE_EQUAL(messages->size(), 2u);
  BOOST_TEST(messages->getObject(0)->getValue<std::string>("role") == "user");
  BOOST_TEST(messages->getObject(0)->getValue<std::string>("content")
             == "What is this?");
  BOOST_TEST(!messages->getObject(0)->has("images"));
  auto image = messages->getObject(1);
  BOOST_TEST(image->getValue<std::string>("role") == "user");
  BOOST_TEST(image->getValue<std::string>("content") == "");
  BOOST_TEST(image->getArray("images")->getElement<std::string>(0) == "iVBORw0KGgo=");

  for (auto prefix : {"data:image/jpeg;base64,", "data:image/jpg;base64,",
                      "data:image/webp;base64,", "data:;base64,"}) {
    auto body = std::string{R"({"model":"m","messages":[{"role":"user","content":[
        {"type":"image_url","image_url":{"url":")"}
                + prefix + R"(QUJD"}}]}]})";
    auto images =
        chat_payload(body)->getArray("messages")->getObject(0)->getArray("images");
    BOOST_TEST(images->getElement<std::string>(0) == "QUJD", prefix);
  }
  // image_url may be the URL itself.
  auto bare = chat_payload(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"image_url","image_url":"data:image/png;base64,QUI="}]}]})");
  BOOST_TEST(bare->getArray("messages")
                 ->getObject(0)
                 ->getArray("images")
                 ->getElement<std::string>(0)
             == "QUI=");
}

BOOST_AUTO_TEST_CASE(unusable_images_and_parts_are_refused) {
  auto remote =
      refused(parse_chat_request(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]})"));
  BOOST_TEST(remote.status == 400);
  BOOST_TEST(remote.message.find("image URLs are not currently supported") == 0);
  BOOST_TEST(
      refused(parse_chat_request(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"image_url","image_url":{"url":"http://example.com/cat.png"}}]}]})"))
          .status
      == 400);
  auto gif =
      refused(parse_chat_request(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"image_url","image_url":{"url":"data:image/gif;base64,QUJD"}}]}]})"));
  BOOST_TEST(gif.message == "invalid image input");
  auto garbage =
      refused(parse_chat_request(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"image_url","image_url":{"url":"data:image/png;base64,!!!"}}]}]})"));
  BOOST_TEST(garbage.message == "invalid image input");
  for (auto part :
       {R"({"type":"video","x":1})", R"({"type":"text","text":5})", R"("text")"}) {
    auto body = std::string{R"({"model":"m","messages":[{"role":"user","content":[)"}
                + part + "]}]}";
    auto problem = refused(parse_chat_request(body));
    BOOST_TEST(problem.status == 400);
    BOOST_TEST(problem.message == "invalid message format", part);
  }
  BOOST_TEST(refused(parse_chat_request(
                         R"({"model":"m","messages":[{"role":"user","content":5}]})"))
                 .status
             == 400);
}

BOOST_AUTO_TEST_CASE(assistant_tool_calls_get_object_arguments) {
  auto request = accepted(parse_chat_request(R"({"model":"m","messages":[
      {"role":"user","content":"Weather?"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"call_abc","type":"function",
        "function":{"name":"get_weather","arguments":"{\"city\":\"Tokyo\",\"days\":2}"}}]},
      {"role":"tool","tool_call_id":"call_abc","content":"Sunny"}]})"));
  auto messages = parse(request.payload)->getArray("messages");
  BOOST_REQUIRE_EQUAL(messages->size(), 3u);
  auto assistant = messages->getObject(1);
  BOOST_TEST(assistant->getValue<std::string>("role") == "assistant");
  BOOST_TEST(assistant->getValue<std::string>("content") == "");
  auto call = assistant->getArray("tool_calls")->getObject(0);
  BOOST_TEST(call->getValue<std::string>("id") == "call_abc");
  auto arguments = call->getObject("function")->getObject("arguments");
  BOOST_TEST(call->getObject("function")->getValue<std::string>("name")
             == "get_weather");
  BOOST_TEST(arguments->getValue<std::string>("city") == "Tokyo");
  BOOST_TEST(arguments->getValue<int>("days") == 2);
  BOOST_TEST(request.payload.find(R"("arguments":{"city":"Tokyo","days":2})")
             != std::string::npos);
  // The tool result names the function its tool_call_id refers to.
  auto tool = messages->getObject(2);
  BOOST_TEST(tool->getValue<std::string>("tool_name") == "get_weather");
  BOOST_TEST(tool->getValue<std::string>("tool_call_id") == "call_abc");
  BOOST_TEST(tool->getValue<std::string>("content") == "Sunny");
}

BOOST_AUTO_TEST_CASE(tool_message_name_wins_over_the_call_id) {
  auto messages = chat_payload(R"({"model":"m","messages":[
      {"role":"assistant","tool_calls":[{"id":"c1","function":{"name":"f","arguments":"{}"}}]},
      {"role":"tool","name":"explicit","tool_call_id":"c1","content":"1"},
      {"role":"tool","tool_call_id":"unknown","content":"2"}]})")
                      ->getArray("messages");
  BOOST_TEST(messages->getObject(1)->getValue<std::string>("tool_name") == "explicit");
  BOOST_TEST(!messages->getObject(2)->has("tool_name"));
}

BOOST_AUTO_TEST_CASE(bad_tool_calls_and_missing_content_are_refused) {
  auto problem =
      refused(parse_chat_request(R"({"model":"m","messages":[{"role":"assistant",
      "tool_calls":[{"id":"c","function":{"name":"f","arguments":"{not json"}}]}]})"));
  BOOST_TEST(problem.status == 400);
  BOOST_TEST(problem.message.find("invalid tool call arguments") != std::string::npos);
  BOOST_TEST(refused(parse_chat_request(R"({"model":"m","messages":[{"role":"assistant",
      "tool_calls":[{"function":{"name":"f","arguments":"[1]"}}]}]})"))
                 .status
             == 400);
  BOOST_TEST(
      refused(parse_chat_request(R"({"model":"m","messages":[{"role":"user"}]})"))
          .status
      == 400);
}

BOOST_AUTO_TEST_CASE(message_reasoning_becomes_thinking) {
  auto messages =
      chat_payload(R"({"model":"m","messages":[{"role":"user","content":"x"},
      {"role":"assistant","content":"y","reasoning":"because"}]})")
          ->getArray("messages");
  BOOST_TEST(messages->getObject(1)->getValue<std::string>("thinking") == "because");
  BOOST_TEST(!messages->getObject(0)->has("thinking"));
}

BOOST_AUTO_TEST_CASE(logprobs_pass_to_native) {
  auto payload =
      chat_payload(R"({"model":"m","messages":[{"role":"user","content":"x"}],
      "logprobs":true,"top_logprobs":3})");
  BOOST_TEST(payload->getValue<bool>("logprobs") == true);
  BOOST_TEST(payload->getValue<int>("top_logprobs") == 3);
}

BOOST_AUTO_TEST_CASE(strings_are_escaped_like_json_quote) {
  auto request =
      accepted(parse_chat_request("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                                  "\"content\":\"a\\\"b\\n<c>\xE2\x80\xA8\"}]}"));
  BOOST_TEST(request.payload.find(R"("content":"a\"b\n<c>\u2028")")
             != std::string::npos);
  BOOST_TEST(parse(request.payload)
                 ->getArray("messages")
                 ->getObject(0)
                 ->getValue<std::string>("content")
             == "a\"b\n<c>\xE2\x80\xA8");
}

BOOST_AUTO_TEST_SUITE_END()

// -- completion requests ------------------------------------------------------

BOOST_AUTO_TEST_SUITE(completion_requests)

BOOST_AUTO_TEST_CASE(prompt_and_suffix_become_a_native_generate) {
  auto request = accepted(parse_completion_request(
      R"({"model":"codellama","prompt":"def f(","suffix":"return 1","max_tokens":20,
          "stop":["\n\n"],"seed":1,"stream":true,"stream_options":{"include_usage":true}})"));
  BOOST_TEST((request.kind == job_kind::generate));
  BOOST_TEST(request.model == "codellama");
  BOOST_TEST(request.stream);
  BOOST_TEST(request.include_usage);
  auto payload = parse(request.payload);
  BOOST_TEST(payload->getValue<std::string>("prompt") == "def f(");
  BOOST_TEST(payload->getValue<std::string>("suffix") == "return 1");
  BOOST_TEST(payload->getValue<bool>("stream") == true);
  BOOST_TEST(!payload->has("keep_alive"));
  auto options = payload->getObject("options");
  BOOST_TEST(options->getValue<int>("num_predict") == 20);
  BOOST_TEST(options->getValue<int>("seed") == 1);
  BOOST_TEST(options->getValue<double>("temperature") == 1.0);
  BOOST_TEST(options->getValue<double>("top_p") == 1.0);
  BOOST_TEST(options->getArray("stop")->getElement<std::string>(0) == "\n\n");
  BOOST_TEST(!payload->has("logprobs"));
}

BOOST_AUTO_TEST_CASE(prompt_must_be_a_string) {
  for (auto body : {R"({"model":"m","prompt":["a","b"]})",
                    R"({"model":"m","prompt":[1,2]})", R"({"model":"m","prompt":3})"}) {
    auto problem = refused(parse_completion_request(body));
    BOOST_TEST(problem.status == 400);
    BOOST_TEST(problem.message == "prompt must be a string");
  }
}

BOOST_AUTO_TEST_CASE(missing_model_is_not_found_like_native_generate) {
  auto problem = refused(parse_completion_request(R"({"prompt":"x"})"));
  BOOST_TEST(problem.status == 404);
  BOOST_TEST(problem.message == "model '' not found");
}

BOOST_AUTO_TEST_CASE(logprobs_count_becomes_top_logprobs) {
  auto payload = parse(
      accepted(parse_completion_request(R"({"model":"m","prompt":"x","logprobs":2})"))
          .payload);
  BOOST_TEST(payload->getValue<bool>("logprobs") == true);
  BOOST_TEST(payload->getValue<int>("top_logprobs") == 2);
}

BOOST_AUTO_TEST_SUITE_END()

// -- embeddings requests ------------------------------------------------------

BOOST_AUTO_TEST_SUITE(embeddings_requests)

BOOST_AUTO_TEST_CASE(string_and_array_inputs_pass_to_native_embed) {
  auto request = accepted(parse_embeddings_request(
      R"({"model":"all-minilm","input":"hello","dimensions":64})"));
  BOOST_TEST((request.kind == job_kind::embed));
  BOOST_TEST(request.model == "all-minilm");
  BOOST_TEST(!request.base64_embeddings);
  auto payload = parse(request.payload);
  BOOST_TEST(payload->getValue<std::string>("input") == "hello");
  BOOST_TEST(payload->getValue<int>("dimensions") == 64);
  BOOST_TEST(!payload->has("stream"));
  auto array = parse(
      accepted(parse_embeddings_request(R"({"model":"m","input":["a","b"]})")).payload);
  BOOST_TEST(array->getArray("input")->size() == 2u);
  BOOST_TEST(!array->has("dimensions"));
}

BOOST_AUTO_TEST_CASE(empty_string_input_becomes_a_list_of_one) {
  auto payload =
      parse(accepted(parse_embeddings_request(R"({"model":"m","input":""})")).payload);
  auto input = payload->getArray("input");
  BOOST_REQUIRE_EQUAL(input->size(), 1u);
  BOOST_TEST(input->getElement<std::string>(0) == "");
}

BOOST_AUTO_TEST_CASE(missing_or_empty_input_is_invalid) {
  for (auto body : {R"({"model":"m"})", R"({"model":"m","input":[]})",
                    R"({"model":"m","input":null})"}) {
    auto problem = refused(parse_embeddings_request(body));
    BOOST_TEST(problem.status == 400);
    BOOST_TEST(problem.message == "invalid input");
  }
  BOOST_TEST(
      refused(parse_embeddings_request(R"({"model":"m","input":[[1,2]]})")).status
      == 400);
  BOOST_TEST(refused(parse_embeddings_request(R"({"model":"m","input":5})")).status
             == 400);
}

BOOST_AUTO_TEST_CASE(encoding_format_is_float_or_base64) {
  BOOST_TEST(accepted(parse_embeddings_request(
                          R"({"model":"m","input":"x","encoding_format":"base64"})"))
                 .base64_embeddings);
  BOOST_TEST(accepted(parse_embeddings_request(
                          R"({"model":"m","input":"x","encoding_format":"BASE64"})"))
                 .base64_embeddings);
  BOOST_TEST(!accepted(parse_embeddings_request(
                           R"({"model":"m","input":"x","encoding_format":"float"})"))
                  .base64_embeddings);
  auto problem = refused(parse_embeddings_request(
      R"({"model":"m","input":"x","encoding_format":"int8"})"));
  BOOST_TEST(problem.status == 400);
  BOOST_TEST(problem.message
             == "Invalid value for 'encoding_format' = int8. Supported values: "
                "['float', 'base64'].");
}

BOOST_AUTO_TEST_CASE(missing_model_is_not_found_like_native_embed) {
  auto problem = refused(parse_embeddings_request(R"({"input":"x"})"));
  BOOST_TEST(problem.status == 404);
  BOOST_TEST(problem.message == "model '' not found");
  BOOST_TEST(
      refused(parse_embeddings_request(R"({"model":"m","input":"x","dimensions":"9"})"))
          .status
      == 400);
}

BOOST_AUTO_TEST_SUITE_END()

// -- non-streamed responses ---------------------------------------------------

BOOST_AUTO_TEST_SUITE(responses)

BOOST_AUTO_TEST_CASE(chat_response_has_openai_shape) {
  auto body = chat_response(
      R"({"model":"llama3.2:latest","created_at":"2026-02-01T09:00:02.5Z","message":{"role":"assistant","content":"Hi!"},
          "done":true,"done_reason":"stop","prompt_eval_count":26,"eval_count":3})",
      "llama3.2", "chatcmpl-417", 1769936400);
  auto reply = parse(body);
  BOOST_TEST(reply->getValue<std::string>("id") == "chatcmpl-417");
  BOOST_TEST(reply->getValue<std::string>("object") == "chat.completion");
  BOOST_TEST(reply->getValue<int64_t>("created") == 1769936400);
  BOOST_TEST(reply->getValue<std::string>("model") == "llama3.2");
  BOOST_TEST(reply->getValue<std::string>("system_fingerprint") == "fp_ollama");
  auto choices = reply->getArray("choices");
  BOOST_REQUIRE_EQUAL(choices->size(), 1u);
  auto choice = choices->getObject(0);
  BOOST_TEST(choice->getValue<int>("index") == 0);
  BOOST_TEST(choice->getValue<std::string>("finish_reason") == "stop");
  auto message = choice->getObject("message");
  BOOST_TEST(message->getValue<std::string>("role") == "assistant");
  BOOST_TEST(message->getValue<std::string>("content") == "Hi!");
  BOOST_TEST(!message->has("reasoning"));
  BOOST_TEST(!message->has("tool_calls"));
  auto usage = reply->getObject("usage");
  BOOST_TEST(usage->getValue<int>("prompt_tokens") == 26);
  BOOST_TEST(usage->getValue<int>("completion_tokens") == 3);
  BOOST_TEST(usage->getValue<int>("total_tokens") == 29);
}

BOOST_AUTO_TEST_CASE(chat_response_carries_reasoning_and_tool_calls) {
  auto reply = parse(chat_response(
      R"({"model":"m","message":{"role":"assistant","content":"","thinking":"Let me check.",
          "tool_calls":[{"id":"call_k3j9x0aa","function":{"index":0,"name":"get_weather","arguments":{"city":"Tokyo","n":1}}},
                        {"function":{"index":1,"name":"get_time","arguments":{}}}]},
          "done":true,"done_reason":"stop","prompt_eval_count":5,"eval_count":7})",
      "m", "chatcmpl-1", 10));
  auto choice = reply->getArray("choices")->getObject(0);
  BOOST_TEST(choice->getValue<std::string>("finish_reason") == "tool_calls");
  auto message = choice->getObject("message");
  BOOST_TEST(message->getValue<std::string>("reasoning") == "Let me check.");
  BOOST_TEST(!message->has("reasoning_content"));
  auto calls = message->getArray("tool_calls");
  BOOST_REQUIRE_EQUAL(calls->size(), 2u);
  auto first = calls->getObject(0);
  BOOST_TEST(first->getValue<std::string>("id") == "call_k3j9x0aa");
  BOOST_TEST(first->getValue<int>("index") == 0);
  BOOST_TEST(first->getValue<std::string>("type") == "function");
  BOOST_TEST(first->getObject("function")->getValue<std::string>("name")
             == "get_weather");
  BOOST_TEST(first->getObject("function")->getValue<std::string>("arguments")
             == R"({"city":"Tokyo","n":1})");
  // A target that sends no id still gets one of Ollama's form, stable per answer.
  auto second = calls->getObject(1);
  auto id = second->getValue<std::string>("id");
  BOOST_TEST(id.size() == 13u);
  BOOST_TEST(id.rfind("call_", 0) == 0);
  BOOST_TEST(id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789", 5)
             == std::string::npos);
  BOOST_TEST(second->getValue<int>("index") == 1);
  BOOST_TEST(second->getObject("function")->getValue<std::string>("arguments") == "{}");
}

BOOST_AUTO_TEST_CASE(finish_reason_follows_done_reason) {
  auto reason = [](const char* native) {
    return parse(chat_response(native, "m", "c", 0))
        ->getArray("choices")
        ->getObject(0)
        ->getValue<std::string>("finish_reason");
  };
  BOOST_TEST(
      reason(
          R"({"message":{"role":"assistant","content":"x"},"done":true,"done_reason":"length"})")
      == "length");
  BOOST_TEST(reason(R"({"message":{"role":"assistant","content":"x"},"done":true})")
             == "stop");
  BOOST_TEST(
      reason(
          R"({"message":{"role":"assistant","content":"x"},"done":true,"done_reason":"load"})")
      == "stop");
}

BOOST_AUTO_TEST_CASE(chat_response_passes_logprobs) {
  auto choice =
      parse(
          chat_response(R"({"message":{"role":"assistant","content":"The"},"done":true,
      "logprobs":[{"token":"The","logprob":-0.01,"bytes":[84,104,101]}]})",
                        "m", "c", 0))
          ->getArray("choices")
          ->getObject(0);
  auto entry = choice->getObject("logprobs")->getArray("content")->getObject(0);
  BOOST_TEST(entry->getValue<std::string>("token") == "The");
  BOOST_TEST(entry->getValue<double>("logprob") == -0.01);
}

BOOST_AUTO_TEST_CASE(completion_response_has_openai_shape) {
  auto reply = parse(completion_response(
      R"({"model":"llama3.2","response":"a poem","done":true,"done_reason":"length",
          "prompt_eval_count":5,"eval_count":9,"context":[1,2]})",
      "llama3.2", "cmpl-88", 1769936400));
  BOOST_TEST(reply->getValue<std::string>("id") == "cmpl-88");
  BOOST_TEST(reply->getValue<std::string>("object") == "text_completion");
  BOOST_TEST(reply->getValue<int64_t>("created") == 1769936400);
  BOOST_TEST(reply->getValue<std::string>("model") == "llama3.2");
  BOOST_TEST(reply->getValue<std::string>("system_fingerprint") == "fp_ollama");
  auto choice = reply->getArray("choices")->getObject(0);
  BOOST_TEST(choice->getValue<std::string>("text") == "a poem");
  BOOST_TEST(choice->getValue<int>("index") == 0);
  BOOST_TEST(choice->getValue<std::string>("finish_reason") == "length");
  auto usage = reply->getObject("usage");
  BOOST_TEST(usage->getValue<int>("prompt_tokens") == 5);
  BOOST_TEST(usage->getValue<int>("completion_tokens") == 9);
  BOOST_TEST(usage->getValue<int>("total_tokens") == 14);
}

BOOST_AUTO_TEST_CASE(embeddings_response_lists_float_vectors) {
  auto reply = parse(embeddings_response(
      R"({"model":"all-minilm","embeddings":[[0.0101,-0.0017,0.05],[1,0]],"prompt_eval_count":8})",
      "all-minilm", false));
  BOOST_TEST(reply->getValue<std::string>("object") == "list");
  BOOST_TEST(reply->getValue<std::string>("model") == "all-minilm");
  auto data = reply->getArray("data");
  BOOST_REQUIRE_EQUAL(data->size(), 2u);
  auto first = data->getObject(0);
  BOOST_TEST(first->getValue<std::string>("object") == "embedding");
  BOOST_TEST(first->getValue<int>("index") == 0);
  auto vector = first->getArray("embedding");
  BOOST_REQUIRE_EQUAL(vector->size(), 3u);
  BOOST_TEST(static_cast<float>(vector->getElement<double>(0)) == 0.0101f);
  BOOST_TEST(static_cast<float>(vector->getElement<double>(1)) == -0.0017f);
  BOOST_TEST(data->getObject(1)->getValue<int>("index") == 1);
  auto usage = reply->getObject("usage");
  BOOST_TEST(usage->getValue<int>("prompt_tokens") == 8);
  BOOST_TEST(usage->getValue<int>("total_tokens") == 8);
}

BOOST_AUTO_TEST_CASE(float_vectors_print_as_short_float32) {
  auto body = embeddings_response(R"({"embeddings":[[0.0101,-0.5,0.1]]})", "m", false);
  BOOST_TEST(body.find("[0.0101,-0.5,0.1]") != std::string::npos, body);
}

BOOST_AUTO_TEST_CASE(base64_embeddings_are_little_endian_float32) {
  auto reply = parse(embeddings_response(
      R"({"embeddings":[[1.5,-2,0.25]],"prompt_eval_count":3})", "m", true));
  auto text = reply->getArray("data")->getObject(0)->getValue<std::string>("embedding");
  std::istringstream in{text};
  Poco::Base64Decoder decoder{in};
  std::string bytes{std::istreambuf_iterator<char>{decoder},
                    std::istreambuf_iterator<char>{}};
  BOOST_REQUIRE_EQUAL(bytes.size(), 12u);
  // 1.5f = 0x3FC00000, little-endian first.
  BOOST_TEST(bytes.substr(0, 4) == std::string("\x00\x00\xC0\x3F", 4));
  const float expected[] = {1.5f, -2.0f, 0.25f};
  for (int i = 0; i < 3; ++i) {
    uint32_t bits = 0;
    for (int b = 0; b < 4; ++b)
      bits |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i * 4 + b]))
              << (8 * b);
    float value;
    std::memcpy(&value, &bits, sizeof value);
    BOOST_TEST(value == expected[i]);
  }
  BOOST_TEST(text == "AADAPwAAAMAAAIA+");
}

BOOST_AUTO_TEST_CASE(no_embeddings_give_null_data) {
  auto reply =
      parse(embeddings_response(R"({"model":"m","embeddings":[]})", "m", false));
  BOOST_TEST(reply->has("data"));
  BOOST_TEST(reply->isNull("data"));
}

BOOST_AUTO_TEST_SUITE_END()

// -- streaming ----------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(streaming)

BOOST_AUTO_TEST_CASE(chat_stream_matches_ollama_byte_for_byte) {
  stream_translator t{job_kind::chat, "llama3.2", "chatcmpl-417", 1769936400, true};
  std::string out;
  out += t.translate(
      R"({"model":"llama3.2","created_at":"2026-01-01T10:00:00.1Z","message":{"role":"assistant","content":"Hi"},"done":false})");
  out += t.translate(
      R"({"model":"llama3.2","created_at":"2026-01-01T10:00:00.2Z","message":{"role":"assistant","content":"!"},"done":false})");
  out += t.translate(
      R"({"model":"llama3.2","created_at":"2026-01-01T10:00:00.3Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":1,"prompt_eval_count":26,"eval_count":2})");
  out += t.finish();
  const std::string head =
      R"(data: {"id":"chatcmpl-417","object":"chat.completion.chunk","created":1769936400,"model":"llama3.2","system_fingerprint":"fp_ollama",)";
  const std::string expected =
      head
      + R"("choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]})"
      + "\n\n" + head
      + R"("choices":[{"index":0,"delta":{"content":"!"},"finish_reason":null}]})"
      + "\n\n" + head + R"("choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
      + "\n\n" + head
      + R"("choices":[],"usage":{"prompt_tokens":26,"completion_tokens":2,"total_tokens":28}})"
      + "\n\n" + "data: [DONE]\n\n";
  BOOST_TEST(out == expected);
}

BOOST_AUTO_TEST_CASE(reasoning_and_content_split_into_two_chunks) {
  stream_translator t{job_kind::chat, "m", "chatcmpl-1", 5, false};
  auto first = events(t.translate(
      R"({"message":{"role":"assistant","content":"","thinking":"Hmm"},"done":false})"));
  BOOST_REQUIRE_EQUAL(first.size(), 1u);
  BOOST_TEST(delta_of(first[0])->getValue<std::string>("role") == "assistant");
  BOOST_TEST(delta_of(first[0])->getValue<std::string>("reasoning") == "Hmm");
  BOOST_TEST(!delta_of(first[0])->has("content"));

  auto both = events(t.translate(
      R"({"message":{"role":"assistant","content":"Yes","thinking":" done"},"done":false})"));
  BOOST_REQUIRE_EQUAL(both.size(), 2u);
  BOOST_TEST(delta_of(both[0])->getValue<std::string>("reasoning") == " done");
  BOOST_TEST(!delta_of(both[0])->has("content"));
  BOOST_TEST(!delta_of(both[0])->has("role"));
  BOOST_TEST(delta_of(both[1])->getValue<std::string>("content") == "Yes");
  BOOST_TEST(!delta_of(both[1])->has("reasoning"));
  BOOST_TEST(!delta_of(both[1])->has("role"));
  for (const auto& e : both) {
    BOOST_TEST(finish_of(e) == "null");
    BOOST_TEST(parse(e)->getValue<std::string>("id") == "chatcmpl-1");
    BOOST_TEST(parse(e)->getValue<int64_t>("created") == 5);
  }
}

BOOST_AUTO_TEST_CASE(final_chunk_content_comes_before_the_finish_chunk) {
  stream_translator t{job_kind::chat, "m", "chatcmpl-2", 5, false};
  auto out = events(t.translate(
      R"({"message":{"role":"assistant","content":"All at once"},"done":true,"done_reason":"length","eval_count":3})"));
  BOOST_REQUIRE_EQUAL(out.size(), 2u);
  BOOST_TEST(delta_of(out[0])->getValue<std::string>("role") == "assistant");
  BOOST_TEST(delta_of(out[0])->getValue<std::string>("content") == "All at once");
  BOOST_TEST(finish_of(out[0]) == "null");
  BOOST_TEST(delta_of(out[1])->size() == 0u);
  BOOST_TEST(finish_of(out[1]) == "length");
  BOOST_TEST(t.finish() == "data: [DONE]\n\n");
}

BOOST_AUTO_TEST_CASE(an_empty_answer_still_sends_the_role_first) {
  stream_translator t{job_kind::chat, "m", "chatcmpl-3", 5, false};
  auto out = events(t.translate(
      R"({"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop"})"));
  BOOST_REQUIRE_EQUAL(out.size(), 2u);
  BOOST_TEST(delta_of(out[0])->getValue<std::string>("role") == "assistant");
  BOOST_TEST(delta_of(out[0])->getValue<std::string>("content") == "");
  BOOST_TEST(delta_of(out[1])->size() == 0u);
  BOOST_TEST(finish_of(out[1]) == "stop");
}

BOOST_AUTO_TEST_CASE(streamed_tool_calls_end_with_tool_calls) {
  stream_translator t{job_kind::chat, "m", "chatcmpl-4", 5, true};
  t.translate(R"({"message":{"role":"assistant","content":""},"done":false})");
  auto calls = events(t.translate(
      R"({"message":{"role":"assistant","content":"","tool_calls":[{"id":"call_a","function":{"name":"f","arguments":{"x":1}}}]},"done":false})"));
  BOOST_REQUIRE_EQUAL(calls.size(), 1u);
  auto call = delta_of(calls[0])->getArray("tool_calls")->getObject(0);
  BOOST_TEST(call->getValue<std::string>("id") == "call_a");
  BOOST_TEST(call->getValue<int>("index") == 0);
  BOOST_TEST(call->getValue<std::string>("type") == "function");
  BOOST_TEST(call->getObject("function")->getValue<std::string>("arguments")
             == R"({"x":1})");
  // Calls without a native index keep counting across chunks.
  auto more = events(t.translate(
      R"({"message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"g","arguments":{}}}]},"done":false})"));
  BOOST_TEST(
      delta_of(more[0])->getArray("tool_calls")->getObject(0)->getValue<int>("index")
      == 1);
  auto end = events(t.translate(
      R"({"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":4,"eval_count":6})"));
  BOOST_REQUIRE_EQUAL(end.size(), 1u);
  BOOST_TEST(finish_of(end[0]) == "tool_calls");
  auto closing = events(t.finish());
  BOOST_REQUIRE_EQUAL(closing.size(), 2u);
  auto usage = parse(closing[0]);
  BOOST_TEST(usage->getArray("choices")->size() == 0u);
  BOOST_TEST(usage->getObject("usage")->getValue<int>("total_tokens") == 10);
  BOOST_TEST(closing[1] == "[DONE]");
}

BOOST_AUTO_TEST_CASE(error_and_junk_lines_translate_to_nothing) {
  stream_translator chat{job_kind::chat, "m", "chatcmpl-5", 5, true};
  BOOST_TEST(
      chat.translate(R"({"error":"an error was encountered while running the model"})")
      == "");
  BOOST_TEST(chat.translate("") == "");
  BOOST_TEST(chat.translate("not json") == "");
  stream_translator generate{job_kind::generate, "m", "cmpl-5", 5, true};
  BOOST_TEST(generate.translate(R"({"error":"boom"})") == "");
  // A line's trailing newline is fine.
  BOOST_TEST(events(chat.translate("{\"message\":{\"role\":\"assistant\",\"content\":"
                                   "\"a\"},\"done\":false}\n"))
                 .size()
             == 1u);
}

BOOST_AUTO_TEST_CASE(chat_stream_passes_logprobs) {
  stream_translator t{job_kind::chat, "m", "chatcmpl-6", 5, false};
  auto out = events(t.translate(
      R"({"message":{"role":"assistant","content":"The"},"logprobs":[{"token":"The","logprob":-0.5}],"done":false})"));
  auto choice = parse(out.at(0))->getArray("choices")->getObject(0);
  BOOST_TEST(choice->getObject("logprobs")
                 ->getArray("content")
                 ->getObject(0)
                 ->getValue<std::string>("token")
             == "The");
}

BOOST_AUTO_TEST_CASE(completion_stream_uses_text_completion_and_zeroed_usage) {
  stream_translator t{job_kind::generate, "llama3.2", "cmpl-88", 1769936400, true};
  std::string stream =
      t.translate(R"({"model":"llama3.2","response":"Once","done":false})");
  stream += t.translate(R"({"model":"llama3.2","response":" upon","done":false})");
  stream += t.translate(
      R"({"model":"llama3.2","response":"","done":true,"done_reason":"stop","prompt_eval_count":5,"eval_count":2,"context":[1]})");
  stream += t.finish();
  auto out = events(stream);
  BOOST_REQUIRE_EQUAL(out.size(), 5u);
  for (size_t i = 0; i < 3; ++i) {
    auto chunk = parse(out[i]);
    BOOST_TEST(chunk->getValue<std::string>("object") == "text_completion");
    BOOST_TEST(chunk->getValue<std::string>("id") == "cmpl-88");
    BOOST_TEST(chunk->getValue<int64_t>("created") == 1769936400);
    BOOST_TEST(chunk->getValue<std::string>("model") == "llama3.2");
    BOOST_TEST(chunk->getValue<std::string>("system_fingerprint") == "fp_ollama");
    auto usage = chunk->getObject("usage");
    BOOST_TEST(usage->getValue<int>("prompt_tokens") == 0);
    BOOST_TEST(usage->getValue<int>("completion_tokens") == 0);
    BOOST_TEST(usage->getValue<int>("total_tokens") == 0);
  }
  auto text = [&](size_t i) {
    return parse(out[i])->getArray("choices")->getObject(0)->getValue<std::string>(
        "text");
  };
  BOOST_TEST(text(0) == "Once");
  BOOST_TEST(text(1) == " upon");
  BOOST_TEST(finish_of(out[1]) == "null");
  BOOST_TEST(finish_of(out[2]) == "stop");
  auto usage = parse(out[3]);
  BOOST_TEST(usage->getArray("choices")->size() == 0u);
  BOOST_TEST(usage->getValue<std::string>("object") == "text_completion");
  BOOST_TEST(usage->getObject("usage")->getValue<int>("prompt_tokens") == 5);
  BOOST_TEST(usage->getObject("usage")->getValue<int>("completion_tokens") == 2);
  BOOST_TEST(usage->getObject("usage")->getValue<int>("total_tokens") == 7);
  BOOST_TEST(out[4] == "[DONE]");
}

BOOST_AUTO_TEST_CASE(completion_stream_without_usage_has_no_usage) {
  stream_translator t{job_kind::generate, "m", "cmpl-1", 5, false};
  auto chunk = t.translate(R"({"response":"a","done":false})");
  BOOST_TEST(!parse(events(chunk).at(0))->has("usage"));
  auto last =
      events(t.translate(R"({"response":"","done":true,"done_reason":"length"})"));
  BOOST_TEST(finish_of(last.at(0)) == "length");
  BOOST_TEST(t.finish() == "data: [DONE]\n\n");
}

BOOST_AUTO_TEST_SUITE_END()

// -- models, errors, ids ------------------------------------------------------

BOOST_AUTO_TEST_SUITE(models_errors_ids)

const std::string tags = R"({"models":[
  {"name":"llama3.2:latest","model":"llama3.2:latest","modified_at":"2025-05-04T17:37:44.706015396-07:00","size":1},
  {"name":"hf.co/bartowski/Qwen:Q4_K_M","model":"hf.co/bartowski/Qwen:Q4_K_M","modified_at":"2026-01-02T03:04:05Z","size":2},
  {"name":"alice/tiny:1b","model":"alice/tiny:1b","modified_at":"2026-01-02T03:04:05.5+01:00","size":3}]})";

BOOST_AUTO_TEST_CASE(models_list_from_tags) {
  auto list = parse(models_list(tags));
  BOOST_TEST(list->getValue<std::string>("object") == "list");
  auto data = list->getArray("data");
  BOOST_REQUIRE_EQUAL(data->size(), 3u);
  auto first = data->getObject(0);
  BOOST_TEST(first->getValue<std::string>("id") == "llama3.2:latest");
  BOOST_TEST(first->getValue<std::string>("object") == "model");
  BOOST_TEST(first->getValue<int64_t>("created") == 1746405464); // ollama-api.md §11
  BOOST_TEST(first->getValue<std::string>("owned_by") == "library");
  BOOST_TEST(data->getObject(1)->getValue<std::string>("owned_by") == "bartowski");
  BOOST_TEST(data->getObject(1)->getValue<int64_t>("created") == 1767323045);
  BOOST_TEST(data->getObject(2)->getValue<std::string>("owned_by") == "alice");
  BOOST_TEST(data->getObject(2)->getValue<int64_t>("created") == 1767323045 - 3600);
}

BOOST_AUTO_TEST_CASE(no_models_give_null_data) {
  auto list = parse(models_list(R"({"models":[]})"));
  BOOST_TEST(list->getValue<std::string>("object") == "list");
  BOOST_TEST(list->has("data"));
  BOOST_TEST(list->isNull("data"));
}

BOOST_AUTO_TEST_CASE(model_entry_echoes_the_requested_name) {
  auto entry = model_entry(tags, "llama3.2");
  BOOST_REQUIRE(entry.has_value());
  auto model = parse(*entry);
  BOOST_TEST(model->getValue<std::string>("id") == "llama3.2");
  BOOST_TEST(model->getValue<std::string>("object") == "model");
  BOOST_TEST(model->getValue<int64_t>("created") == 1746405464);
  BOOST_TEST(model->getValue<std::string>("owned_by") == "library");
  BOOST_TEST(model_entry(tags, "alice/tiny:1b").has_value());
  BOOST_TEST(!model_entry(tags, "alice/tiny").has_value());
  BOOST_TEST(!model_entry(tags, "mistral").has_value());
  BOOST_TEST(!model_entry("garbage", "llama3.2").has_value());
}

BOOST_AUTO_TEST_CASE(error_body_types_follow_status) {
  auto check = [](int status, const char* type) {
    auto error = parse(error_body(status, "model 'foo' not found"))->getObject("error");
    BOOST_TEST(error->getValue<std::string>("message") == "model 'foo' not found");
    BOOST_TEST(error->getValue<std::string>("type") == type);
    BOOST_TEST(error->has("param"));
    BOOST_TEST(error->isNull("param"));
    BOOST_TEST(error->has("code"));
    BOOST_TEST(error->isNull("code"));
  };
  check(400, "invalid_request_error");
  check(404, "not_found_error");
  check(403, "permission_error");
  check(503, "api_error");
  check(500, "api_error");
  BOOST_TEST(error_body(401, "unauthorized: unknown API key")
             == R"({"error":{"message":"unauthorized: unknown API key",)"
                R"("type":"invalid_request_error","param":null,"code":"invalid_api_key"}})");
  BOOST_TEST(
      error_body(400, "a\"b")
      == R"({"error":{"message":"a\"b","type":"invalid_request_error","param":null,"code":null}})");
}

BOOST_AUTO_TEST_CASE(ids_look_like_ollamas) {
  BOOST_TEST(chat_id(417) == "chatcmpl-417");
  BOOST_TEST(chat_id(998) == "chatcmpl-998");
  BOOST_TEST(chat_id(999) == "chatcmpl-0");
  BOOST_TEST(chat_id(1000) == "chatcmpl-1");
  BOOST_TEST(completion_id(88) == "cmpl-88");
  BOOST_TEST(completion_id(999 * 7 + 5) == "cmpl-5");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(native_target_bodies)

using foreman::net::target_body;

Poco::JSON::Object::Ptr parsed(const std::string& text) {
  return Poco::JSON::Parser{}.parse(text).extract<Poco::JSON::Object::Ptr>();
}

BOOST_AUTO_TEST_CASE(a_run_sends_the_payload_with_foremans_fields_winning) {
  foreman::target_request run{7, foreman::target_purpose::run, foreman::job_kind::chat,
                              R"({"model":"m","messages":[],"stream":false,"keep_alive":"5m"} )",
                              "-1", ""};
  auto body = parsed(target_body(run));
  BOOST_TEST(body->getValue<bool>("stream"));
  BOOST_TEST(body->getValue<int>("keep_alive") == -1);
  BOOST_TEST(body->getValue<std::string>("model") == "m");
  run.payload = "{ }";
  BOOST_TEST(target_body(run) == R"({ "stream":true,"keep_alive":-1})");
  run.kind = foreman::job_kind::embed;
  run.payload = R"({"model":"e","input":"x"})";
  BOOST_TEST(target_body(run) == R"({"model":"e","input":"x","keep_alive":-1})");
}

BOOST_AUTO_TEST_CASE(a_load_sends_only_the_model_and_its_options) {
  foreman::target_request load{7, foreman::target_purpose::load, foreman::job_kind::chat,
                               R"({"model":"m","messages":[{"role":"user","content":"hi"}],)"
                               R"("options":{"num_ctx":8192}})",
                               "0", ""};
  auto body = parsed(target_body(load));
  BOOST_TEST(body->getArray("messages")->size() == 0u);
  BOOST_TEST(body->getObject("options")->getValue<int>("num_ctx") == 8192);
  BOOST_TEST(!body->getValue<bool>("stream"));
  BOOST_TEST(body->getValue<int>("keep_alive") == 0);
}

BOOST_AUTO_TEST_CASE(the_request_check_reads_the_load_options_once) {
  auto checked = foreman::net::parse_native_request(
    foreman::net::native_endpoint::chat,
    R"({"model":"m","messages":[],"options":{"temperature":0.2,"num_ctx":8192,"num_gpu":1}})");
  auto* call = std::get_if<foreman::net::inference_call>(&checked);
  BOOST_REQUIRE(call);
  BOOST_TEST(call->spec.load_options == "num_ctx=8192,num_gpu=1");
}

BOOST_AUTO_TEST_SUITE_END()
