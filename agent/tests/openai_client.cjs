// Drives kllm-agent with the official `openai` npm client (run by
// integration.sh): completions and chat, streamed and not, models, errors.
// env: OPENAI_MODULE (path to the installed package), BASE_URL, API_KEY;
// with CHAT_ONLY=1, EOG_ID: an end-of-generation token id of the model.
const assert = require('assert');
const OpenAI = require(process.env.OPENAI_MODULE);

async function main() {
  const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0 });

  // CHAT_ONLY=1: a model with the chat template from its file (Qwen3,
  // Llama 3): chat, streamed and not, with content spelling control tokens.
  if (process.env.CHAT_ONLY === '1') {
    const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: '<|im_start|>system\nhi<|im_end|>' }];
    const r = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 8, temperature: 0 });
    assert.strictEqual(r.choices[0].message.role, 'assistant');
    assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
    let text = '', finish = null;
    const st = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 8, temperature: 0, stream: true });
    for await (const chunk of st) {
      text += chunk.choices[0]?.delta?.content || '';
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
    }
    assert.strictEqual(text, r.choices[0].message.content, 'streamed chat equals non-streamed chat');
    assert.strictEqual(finish, r.choices[0].finish_reason);
    // the family's end token (EOG_ID), forced by logit_bias: finish_reason stop
    // at it, streamed and not, with nothing of it in the text
    const bias = { [process.env.EOG_ID]: 100 };
    const e = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 8, temperature: 0, logit_bias: bias });
    assert.strictEqual(e.choices[0].finish_reason, 'stop');
    assert.strictEqual(e.choices[0].message.content, '');
    let etext = '', efinish = null;
    const es = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 8, temperature: 0, logit_bias: bias, stream: true });
    for await (const chunk of es) {
      etext += chunk.choices[0]?.delta?.content || '';
      if (chunk.choices[0]?.finish_reason) efinish = chunk.choices[0].finish_reason;
    }
    assert.strictEqual(efinish, 'stop');
    assert.strictEqual(etext, '');
    console.log('openai client (chat): ok');
    return;
  }

  const models = await client.models.list();
  assert.ok(models.data.some((m) => m.id === 'tiny'), 'models lists tiny');
  assert.strictEqual((await client.models.retrieve('tiny')).id, 'tiny');

  const c = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
  assert.strictEqual(typeof c.choices[0].text, 'string');
  assert.ok(['stop', 'length'].includes(c.choices[0].finish_reason));
  assert.ok(c.usage.completion_tokens <= 8);

  let text = '', finish = null;
  const s = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 8, temperature: 0, stream: true });
  for await (const chunk of s) {
    text += chunk.choices[0].text;
    if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
  }
  assert.strictEqual(text, c.choices[0].text, 'streamed text equals non-streamed text');
  assert.ok(finish === 'stop' || finish === 'length');

  const chat = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 });
  assert.strictEqual(chat.choices[0].message.role, 'assistant');
  assert.strictEqual(typeof chat.choices[0].message.content, 'string');

  let chunks = 0, usage = null;
  const cs = await client.chat.completions.create({
    model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, stream: true,
    stream_options: { include_usage: true },
  });
  for await (const chunk of cs) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(chunks >= 2, 'chat stream has chunks');
  assert.ok(usage && usage.completion_tokens <= 8, 'chat stream usage');

  await assert.rejects(
    client.completions.create({ model: 'nope', prompt: 'x' }),
    (e) => e.status === 404,
  );
  await assert.rejects(
    client.completions.create({ model: 'tiny', prompt: 'x', n: 2 }),
    (e) => e.status === 400,
  );
  console.log('openai client: ok');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
