// Drives foreman with the official `ollama` npm client (ollama-js).
//
//   node tests/clients/ollama_client.mjs http://127.0.0.1:PORT
//
// foreman must front the project's fake Ollama target (deterministic replies
// "<model> says: <last user message>", embedder all-minilm). Prints one line
// per check and exits non-zero when any check fails.

import assert from 'node:assert/strict';

import { Ollama } from 'ollama';

import { runChecks } from './run_checks.mjs';

const base = process.argv[2];
if (!base) {
  console.error('usage: node ollama_client.mjs <foreman base url>');
  process.exit(2);
}

const ollama = new Ollama({ host: base });

/// Reads a stream to its end: the chunks, and the text they carry.
async function collect(stream, textOf) {
  const chunks = [];
  for await (const chunk of stream)
    chunks.push(chunk);
  return { chunks, text: chunks.map(textOf).join('') };
}

/// The streaming checks shared by chat and generate.
function assertStreamed(chunks, text, expected) {
  assert.equal(text, expected, 'the chunks concatenate to the full reply');
  const withText = chunks.filter((c) => !c.done);
  assert.ok(withText.length >= 2,
            `expected several content chunks before done, got ${withText.length} ` +
            `(${JSON.stringify(chunks)})`);
  const last = chunks[chunks.length - 1];
  assert.equal(last.done, true, 'the last chunk has done: true');
  assert.equal(last.done_reason, 'stop');
  assert.ok(chunks.slice(0, -1).every((c) => !c.done), 'only the last chunk is done');
  assert.ok(last.eval_count > 0, 'the final chunk carries eval_count');
}

const isVector = (v) => Array.isArray(v) && v.length > 0 && v.every(Number.isFinite);

await runChecks([
  ['version', async () => {
    const reply = await ollama.version();
    assert.equal(typeof reply.version, 'string');
    assert.match(reply.version, /^\d+\.\d+/);
    return reply.version;
  }],

  ['list', async () => {
    const reply = await ollama.list();
    assert.ok(Array.isArray(reply.models), 'models is an array');
    const names = reply.models.map((m) => m.name);
    for (const name of ['llama3.2:latest', 'qwen2.5:latest', 'mistral:latest', 'all-minilm:latest'])
      assert.ok(names.includes(name), `${name} listed in ${JSON.stringify(names)}`);
    const llama = reply.models.find((m) => m.name === 'llama3.2:latest');
    assert.equal(llama.model, 'llama3.2:latest');
    assert.ok(!Number.isNaN(Date.parse(llama.modified_at)), 'modified_at is a date');
    assert.ok(llama.size > 0, 'size is positive');
    assert.equal(typeof llama.digest, 'string');
    return names.join(', ');
  }],

  ['show', async () => {
    const reply = await ollama.show({ model: 'llama3.2' });
    assert.ok(reply.model_info && typeof reply.model_info === 'object',
              `model_info present in ${JSON.stringify(Object.keys(reply))}`);
    assert.ok(reply.details && typeof reply.details === 'object', 'details present');
    assert.ok(Array.isArray(reply.capabilities) && reply.capabilities.includes('completion'),
              `capabilities include completion: ${JSON.stringify(reply.capabilities)}`);
    return `${Object.keys(reply.model_info).length} model_info keys`;
  }],

  ['chat', async () => {
    const reply = await ollama.chat({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'hello' }],
    });
    assert.equal(reply.message.role, 'assistant');
    assert.equal(reply.message.content, 'llama3.2 says: hello');
    assert.equal(reply.model, 'llama3.2');
    assert.equal(reply.done, true);
    assert.equal(reply.done_reason, 'stop');
    assert.ok(!Number.isNaN(Date.parse(reply.created_at)), 'created_at is a date');
    assert.ok(reply.eval_count > 0, 'eval_count present');
    return reply.message.content;
  }],

  ['chat (stream)', async () => {
    const stream = await ollama.chat({
      model: 'llama3.2',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'first answer' },
        { role: 'user', content: 'hello from the streaming chat' },
      ],
      stream: true,
    });
    const { chunks, text } = await collect(stream, (c) => c.message?.content ?? '');
    for (const c of chunks) {
      assert.equal(c.message.role, 'assistant', 'every chunk has message.role');
      assert.equal(c.model, 'llama3.2');
    }
    assertStreamed(chunks, text, 'llama3.2 says: hello from the streaming chat');
    return `${chunks.length} chunks: ${text}`;
  }],

  ['generate', async () => {
    const reply = await ollama.generate({ model: 'qwen2.5', prompt: 'hello' });
    assert.equal(reply.response, 'qwen2.5 says: hello');
    assert.equal(reply.model, 'qwen2.5');
    assert.equal(reply.done, true);
    assert.equal(reply.done_reason, 'stop');
    return reply.response;
  }],

  ['generate (stream)', async () => {
    const stream = await ollama.generate({
      model: 'qwen2.5',
      prompt: 'hello from the streaming generate',
      stream: true,
    });
    const { chunks, text } = await collect(stream, (c) => c.response ?? '');
    assertStreamed(chunks, text, 'qwen2.5 says: hello from the streaming generate');
    return `${chunks.length} chunks: ${text}`;
  }],

  ['embed (all-minilm, one input)', async () => {
    const reply = await ollama.embed({ model: 'all-minilm', input: 'hello' });
    assert.equal(reply.model, 'all-minilm');
    assert.equal(reply.embeddings.length, 1);
    assert.ok(isVector(reply.embeddings[0]), 'a vector of numbers');
    return `1 vector of ${reply.embeddings[0].length}`;
  }],

  ['embed (all-minilm, three inputs)', async () => {
    const input = ['first text', 'second text', 'first text'];
    const reply = await ollama.embed({ model: 'all-minilm', input });
    assert.equal(reply.embeddings.length, 3);
    const length = reply.embeddings[0].length;
    for (const v of reply.embeddings) {
      assert.ok(isVector(v), 'a vector of numbers');
      assert.equal(v.length, length, 'all vectors have the same length');
    }
    assert.deepEqual(reply.embeddings[2], reply.embeddings[0], 'same text, same vector');
    assert.notDeepEqual(reply.embeddings[1], reply.embeddings[0], 'other text, other vector');
    return `3 vectors of ${length}`;
  }],

  ['embeddings (legacy, all-minilm)', async () => {
    const reply = await ollama.embeddings({ model: 'all-minilm', prompt: 'first text' });
    assert.ok(isVector(reply.embedding), 'a vector of numbers');
    const again = await ollama.embed({ model: 'all-minilm', input: 'first text' });
    assert.equal(reply.embedding.length, again.embeddings[0].length);
    return `1 vector of ${reply.embedding.length}`;
  }],

  ['ps', async () => {
    const reply = await ollama.ps();
    assert.ok(Array.isArray(reply.models), 'models is an array');
    const names = reply.models.map((m) => m.name);
    // The pinned embedder is kept loaded; qwen2.5 generated last.
    assert.ok(names.includes('all-minilm:latest'), `all-minilm resident: ${JSON.stringify(names)}`);
    for (const m of reply.models) {
      assert.ok(!Number.isNaN(Date.parse(m.expires_at)), 'expires_at is a date');
      assert.ok(m.size_vram >= 0);
    }
    return names.join(', ');
  }],

  ['chat with an unknown model fails with 404', async () => {
    await assert.rejects(
      ollama.chat({ model: 'no-such-model', messages: [{ role: 'user', content: 'hello' }] }),
      (error) => {
        assert.equal(error.name, 'ResponseError', `${error}`);
        assert.equal(error.status_code, 404);
        assert.match(error.error, /not found/);
        return true;
      });
    return '404';
  }],
]);
