// Drives foreman's OpenAI-compatible endpoints with the official `openai` npm
// client.
//
//   node tests/clients/openai_client.mjs http://127.0.0.1:PORT
//
// foreman must front the project's fake Ollama target (deterministic replies
// "<model> says: <last user message>", embedder all-minilm). Prints one line
// per check and exits non-zero when any check fails.

import assert from 'node:assert/strict';

import OpenAI from 'openai';

import { runChecks } from './run_checks.mjs';

const base = process.argv[2];
if (!base) {
  console.error('usage: node openai_client.mjs <foreman base url>');
  process.exit(2);
}

// No retries: a failing request must show up as a failing check, not be
// papered over by the client's automatic retry of 5xx answers.
const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'x', maxRetries: 0 });

/// Reads a stream to its end: the chunks, and the text of choice 0.
async function collect(stream, textOf) {
  const chunks = [];
  for await (const chunk of stream)
    chunks.push(chunk);
  return { chunks, text: chunks.map(textOf).join('') };
}

const isVector = (v) => Array.isArray(v) && v.length > 0 && v.every(Number.isFinite);

function assertUsage(usage) {
  assert.ok(usage, 'usage present');
  assert.ok(usage.prompt_tokens > 0, `prompt_tokens > 0 in ${JSON.stringify(usage)}`);
  assert.ok(usage.completion_tokens > 0, `completion_tokens > 0 in ${JSON.stringify(usage)}`);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
}

await runChecks([
  ['models.list', async () => {
    const ids = [];
    for await (const model of openai.models.list()) {
      assert.equal(model.object, 'model');
      assert.ok(Number.isInteger(model.created), 'created is Unix seconds');
      ids.push(model.id);
    }
    for (const id of ['llama3.2:latest', 'qwen2.5:latest', 'mistral:latest', 'all-minilm:latest'])
      assert.ok(ids.includes(id), `${id} listed in ${JSON.stringify(ids)}`);
    return ids.join(', ');
  }],

  ['models.retrieve', async () => {
    const model = await openai.models.retrieve('llama3.2');
    assert.equal(model.id, 'llama3.2');
    assert.equal(model.object, 'model');
    return model.id;
  }],

  ['chat.completions.create', async () => {
    const reply = await openai.chat.completions.create({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'hello' }],
    });
    assert.equal(reply.object, 'chat.completion');
    assert.match(reply.id, /^chatcmpl-/);
    assert.equal(reply.model, 'llama3.2');
    assert.equal(reply.choices.length, 1);
    assert.equal(reply.choices[0].message.role, 'assistant');
    assert.equal(reply.choices[0].message.content, 'llama3.2 says: hello');
    assert.equal(reply.choices[0].finish_reason, 'stop');
    assertUsage(reply.usage);
    return reply.choices[0].message.content;
  }],

  ['chat.completions.create (stream)', async () => {
    const stream = await openai.chat.completions.create({
      model: 'mistral',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello from the streaming chat' },
      ],
      stream: true,
    });
    const { chunks, text } = await collect(stream, (c) => c.choices[0]?.delta?.content ?? '');
    assert.equal(text, 'mistral says: hello from the streaming chat');
    const withText = chunks.filter((c) => c.choices[0]?.delta?.content);
    assert.ok(withText.length >= 2, `several content chunks, got ${withText.length}`);
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.id, chunks[0].id, 'every chunk has the same id');
      assert.equal(c.usage ?? null, null, 'no usage without include_usage');
    }
    assert.equal(chunks[0].choices[0].delta.role, 'assistant', 'the first chunk has the role');
    const last = chunks[chunks.length - 1];
    assert.equal(last.choices[0].finish_reason, 'stop', 'the last chunk finishes');
    return `${chunks.length} chunks: ${text}`;
  }],

  ['chat.completions.create (stream, include_usage)', async () => {
    const stream = await openai.chat.completions.create({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'count the usage please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const { chunks, text } = await collect(stream, (c) => c.choices[0]?.delta?.content ?? '');
    assert.equal(text, 'llama3.2 says: count the usage please');
    assert.ok(chunks.filter((c) => c.choices[0]?.delta?.content).length >= 2,
              'several content chunks');
    const last = chunks[chunks.length - 1];
    assert.deepEqual(last.choices, [], 'the usage chunk has no choices');
    assertUsage(last.usage);
    const finishing = chunks.filter((c) => c.choices[0]?.finish_reason);
    assert.equal(finishing.length, 1, 'one chunk carries finish_reason');
    assert.equal(finishing[0].choices[0].finish_reason, 'stop');
    return `${chunks.length} chunks, usage ${JSON.stringify(last.usage)}`;
  }],

  ['completions.create', async () => {
    const reply = await openai.completions.create({ model: 'qwen2.5', prompt: 'hello' });
    assert.equal(reply.object, 'text_completion');
    assert.match(reply.id, /^cmpl-/);
    assert.equal(reply.choices.length, 1);
    assert.equal(reply.choices[0].text, 'qwen2.5 says: hello');
    assert.equal(reply.choices[0].finish_reason, 'stop');
    assertUsage(reply.usage);
    return reply.choices[0].text;
  }],

  ['completions.create (stream)', async () => {
    const stream = await openai.completions.create({
      model: 'qwen2.5',
      prompt: 'hello from the streaming completion',
      stream: true,
    });
    const { chunks, text } = await collect(stream, (c) => c.choices[0]?.text ?? '');
    assert.equal(text, 'qwen2.5 says: hello from the streaming completion');
    assert.ok(chunks.filter((c) => c.choices[0]?.text).length >= 2, 'several text chunks');
    for (const c of chunks)
      assert.equal(c.object, 'text_completion');
    assert.equal(chunks[chunks.length - 1].choices[0].finish_reason, 'stop');
    return `${chunks.length} chunks: ${text}`;
  }],

  ['embeddings.create (client default: base64)', async () => {
    const reply = await openai.embeddings.create({
      model: 'all-minilm',
      input: ['first text', 'second text', 'first text'],
    });
    assert.equal(reply.object, 'list');
    assert.equal(reply.data.length, 3);
    const length = reply.data[0].embedding.length;
    reply.data.forEach((item, i) => {
      assert.equal(item.object, 'embedding');
      assert.equal(item.index, i);
      assert.ok(isVector(item.embedding), 'a vector of numbers');
      assert.equal(item.embedding.length, length, 'all vectors have the same length');
    });
    assert.deepEqual(reply.data[2].embedding, reply.data[0].embedding, 'same text, same vector');
    assert.notDeepEqual(reply.data[1].embedding, reply.data[0].embedding);
    return `3 vectors of ${length}`;
  }],

  ['embeddings.create (float)', async () => {
    const reply = await openai.embeddings.create({
      model: 'all-minilm',
      input: 'first text',
      encoding_format: 'float',
    });
    assert.equal(reply.data.length, 1);
    assert.ok(isVector(reply.data[0].embedding), 'a vector of numbers');
    assert.equal(reply.model, 'all-minilm');
    // The base64 answer is float32: it matches the float one to float32 precision.
    const packed = await openai.embeddings.create({ model: 'all-minilm', input: 'first text' });
    assert.equal(packed.data[0].embedding.length, reply.data[0].embedding.length);
    packed.data[0].embedding.forEach((value, i) => {
      assert.ok(Math.abs(value - reply.data[0].embedding[i]) < 1e-6,
                `component ${i}: ${value} vs ${reply.data[0].embedding[i]}`);
    });
    return `1 vector of ${reply.data[0].embedding.length}`;
  }],

  ['chat.completions.create with an unknown model throws 404', async () => {
    await assert.rejects(
      openai.chat.completions.create({
        model: 'no-such-model',
        messages: [{ role: 'user', content: 'hello' }],
      }),
      (error) => {
        assert.ok(error instanceof OpenAI.APIError, `an APIError: ${error}`);
        assert.ok(error instanceof OpenAI.NotFoundError, `a NotFoundError: ${error}`);
        assert.equal(error.status, 404);
        assert.equal(error.type, 'not_found_error');
        assert.match(error.message, /not found/);
        return true;
      });
    return '404';
  }],

  ['chat.completions.create (stream) with an unknown model throws 404', async () => {
    await assert.rejects(
      (async () => {
        const stream = await openai.chat.completions.create({
          model: 'no-such-model',
          messages: [{ role: 'user', content: 'hello' }],
          stream: true,
        });
        for await (const _ of stream);
      })(),
      (error) => {
        assert.ok(error instanceof OpenAI.NotFoundError, `a NotFoundError: ${error}`);
        assert.equal(error.status, 404);
        return true;
      });
    return '404';
  }],

  ['models.retrieve of an unknown model throws 404', async () => {
    await assert.rejects(openai.models.retrieve('no-such-model'), (error) => {
      assert.ok(error instanceof OpenAI.NotFoundError, `a NotFoundError: ${error}`);
      assert.equal(error.status, 404);
      return true;
    });
    return '404';
  }],
]);
