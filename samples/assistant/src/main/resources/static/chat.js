// The chat page: talks to the OpenAI-compatible API of this app, sending only the new message each turn
// (the server's session keeps the conversation), and shows the session's sink cache after every token batch.
(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    messages: $('messages'), prompt: $('prompt'), send: $('send'), status: $('status'), composer: $('composer'),
    model: $('model'), conversation: $('conversation-id'), apiKey: $('api-key'),
  };
  let model = null;
  let busy = false;
  let conversationId = localStorage.getItem('streamingllm.conversation') || newConversationId();
  ui.apiKey.value = localStorage.getItem('streamingllm.apiKey') || '';
  ui.conversation.textContent = conversationId;

  function newConversationId() {
    const id = 'chat-' + crypto.randomUUID();
    localStorage.setItem('streamingllm.conversation', id);
    return id;
  }

  function headers(json) {
    const h = { 'X-Conversation-Id': conversationId };
    if (json) h['Content-Type'] = 'application/json';
    const key = ui.apiKey.value.trim();
    if (key) h['Authorization'] = 'Bearer ' + key;
    return h;
  }

  function addMessage(role, text) {
    const div = document.createElement('div');
    div.className = 'message ' + role;
    div.textContent = text;
    ui.messages.appendChild(div);
    ui.messages.scrollTop = ui.messages.scrollHeight;
    return div;
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      return body.error ? body.error.message : JSON.stringify(body);
    } catch (e) {
      return 'HTTP ' + response.status;
    }
  }

  async function loadModel() {
    const response = await fetch('/v1/models', { headers: headers(false) });
    if (!response.ok) {
      ui.model.textContent = 'models: ' + await errorText(response);
      return;
    }
    model = (await response.json()).data[0].id;
    ui.model.textContent = model;
  }

  const fmt = (n) => Number(n).toLocaleString('en-US');

  function showSession(s) {
    $('sinks').textContent = s.sinks;
    $('window').textContent = fmt(s.window);
    const inCache = s.tokens_seen - s.evicted;
    $('in-cache').textContent = fmt(inCache) + ' / ' + fmt(s.capacity);
    $('tokens-seen').textContent = fmt(s.tokens_seen);
    $('evicted').textContent = fmt(s.evicted);
    $('prefilled').textContent = fmt(s.prefilled);
    $('cache-bytes').textContent = s.cache_bytes >= 1048576
      ? (s.cache_bytes / 1048576).toFixed(1) + ' MiB' : (s.cache_bytes / 1024).toFixed(1) + ' KiB';
    $('owner').textContent = s.owner || '–';
    const cells = $('sink-cells');
    if (cells.children.length !== s.sinks) {
      cells.innerHTML = '';
      for (let i = 0; i < s.sinks; i++) {
        const cell = document.createElement('div');
        cell.className = 'sink';
        cell.title = 'sink ' + i;
        cells.appendChild(cell);
      }
    }
    [...cells.children].forEach((cell, i) => cell.classList.toggle('filled', i < s.tokens_seen));
    const inWindow = Math.max(0, inCache - s.sinks);
    const fill = $('window-fill');
    fill.style.width = (100 * inWindow / s.window).toFixed(2) + '%';
    fill.classList.toggle('sliding', s.evicted > 0);
    // the window slides over the stream: with eviction it shows positions evicted+sinks .. seen-1
    fill.style.backgroundPosition = (-(s.evicted % 20)) + 'px 0';
    $('window-range').textContent = inWindow === 0 ? 'empty'
      : 'window holds tokens ' + fmt(s.sinks + s.evicted) + '–' + fmt(s.tokens_seen - 1)
        + (s.evicted > 0 ? ' (sliding: ' + fmt(s.evicted) + ' evicted)' : '');
  }

  async function refreshSession() {
    const response = await fetch('/v1/sessions/' + encodeURIComponent(conversationId), { headers: headers(false) });
    if (response.ok) showSession(await response.json());
  }

  // Reads a server-sent event stream, calling onData with each event's data.
  async function readEvents(response, onData) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
        if (data) onData(data);
      }
    }
  }

  async function send(text) {
    busy = true;
    ui.send.disabled = true;
    addMessage('user', text);
    const bubble = addMessage('assistant', '');
    bubble.classList.add('streaming');
    let firstToken = 0;
    let pieces = 0;
    let usage = null;
    let finish = null;
    const poll = setInterval(refreshSession, 300);
    try {
      const response = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers: headers(true),
        body: JSON.stringify({
          model, stream: true, stream_options: { include_usage: true },
          messages: [{ role: 'user', content: text }],
        }),
      });
      if (!response.ok) throw new Error(await errorText(response));
      await readEvents(response, (data) => {
        if (data === '[DONE]') return;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices[0];
        if (!choice) return;
        if (choice.finish_reason) finish = choice.finish_reason;
        if (choice.delta.content) {
          if (!firstToken) firstToken = performance.now();
          pieces++;
          bubble.textContent += choice.delta.content;
          ui.messages.scrollTop = ui.messages.scrollHeight;
          const seconds = (performance.now() - firstToken) / 1000;
          if (seconds > 0.05) $('tps').textContent = (pieces / seconds).toFixed(1);
        }
      });
      const seconds = firstToken ? (performance.now() - firstToken) / 1000 : 0;
      if (usage && seconds > 0) $('tps').textContent = (usage.completion_tokens / seconds).toFixed(1);
      ui.status.textContent = usage
        ? `${usage.prompt_tokens} prompt tokens prefilled, ${usage.completion_tokens} generated (${finish})`
        : '';
    } catch (e) {
      addMessage('error', e.message);
    } finally {
      clearInterval(poll);
      bubble.classList.remove('streaming');
      if (!bubble.textContent) bubble.remove();
      // a failed refresh must not leave the page busy: the panel shows the session at the next turn
      await refreshSession().catch(() => {});
      busy = false;
      ui.send.disabled = false;
      ui.prompt.focus();
    }
  }

  ui.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = ui.prompt.value.trim();
    if (!text || busy) return;
    ui.prompt.value = '';
    send(text);
  });
  ui.prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      ui.composer.requestSubmit();
    }
  });
  ui.apiKey.addEventListener('change', () => {
    localStorage.setItem('streamingllm.apiKey', ui.apiKey.value.trim());
    loadModel();
  });
  $('new').addEventListener('click', async () => {
    if (busy) return;
    await fetch('/v1/sessions/' + encodeURIComponent(conversationId), { method: 'DELETE', headers: headers(false) });
    conversationId = newConversationId();
    ui.conversation.textContent = conversationId;
    ui.messages.innerHTML = '';
    ui.status.textContent = '';
    $('tps').textContent = '–';
    refreshSession();
  });

  loadModel();
  refreshSession();
})();
