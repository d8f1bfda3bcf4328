// Renders /api/openapi.json: operations grouped by tag, their parameters, bodies and
// responses, then the named schemas. Plain ES module; no third-party code (the CSP
// allows scripts from this origin only).

const main = document.getElementById('content');

function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
  }
  return el;
}

const refName = (ref) => ref.split('/').pop();

/** Prose with `code` spans (the document's descriptions use backticks). */
const prose = (text) => text.split('`').map((part, i) => (i % 2 === 1 ? h('code', { text: part }) : part));

/** The constraints of a schema as short text: "uuid", "1..100", "default 20", "/regex/". */
function constraints(s) {
  const out = [];
  if (s.format) out.push(s.format);
  if (s.enum) out.push(s.enum.map((v) => JSON.stringify(v)).join(' | '));
  if (s.const !== undefined) out.push(`= ${JSON.stringify(s.const)}`);
  if (s.minimum !== undefined || s.maximum !== undefined) out.push(`${s.minimum ?? ''}..${s.maximum ?? ''}`);
  if (s.minLength !== undefined || s.maxLength !== undefined) out.push(`length ${s.minLength ?? 0}..${s.maxLength ?? ''}`);
  if (s.pattern && !s.format) out.push(`/${s.pattern}/`);
  if (s.default !== undefined) out.push(`default ${JSON.stringify(s.default)}`);
  return out.join(', ');
}

function typeOf(s) {
  if (!s || Object.keys(s).length === 0) return 'any';
  if (s.$ref && !s.properties) return h('a', { href: `#schema-${refName(s.$ref)}` }, refName(s.$ref));
  if (s.anyOf || s.oneOf) {
    const parts = (s.anyOf ?? s.oneOf).map(typeOf);
    return parts.flatMap((p, i) => (i === 0 ? [p] : [' | ', p]));
  }
  if (s.type === 'array') return ['array of ', typeOf(s.items ?? {})];
  if (Array.isArray(s.type)) return s.type.join(' | ');
  return s.type ?? 'any';
}

/** A schema as a nested list of its properties (one level per object). */
function renderSchema(s, depth = 0) {
  if (!s) return null;
  if (s.$ref && s.properties?.error?.properties?.code?.enum) {
    // An error response: the Error envelope with these codes.
    return h('div', {}, h('a', { href: '#schema-Error' }, 'Error'), ' with code ', h('code', { text: s.properties.error.properties.code.enum.join(' | ') }));
  }
  const line = (name, prop, required) =>
    h(
      'li',
      {},
      h('code', { text: name }),
      required ? h('span', { class: 'req', title: 'required', text: '*' }) : null,
      ': ',
      typeOf(prop),
      constraints(prop) ? h('span', { class: 'constraint' }, ` (${constraints(prop)})`) : null,
      prop.description ? h('span', { class: 'muted' }, ' — ', prose(prop.description)) : null,
      depth < 4 && prop.type === 'object' && prop.properties ? renderSchema(prop, depth + 1) : null,
      depth < 4 && prop.type === 'array' && prop.items?.properties ? renderSchema(prop.items, depth + 1) : null,
    );
  if (s.type === 'object' && s.properties) {
    const required = new Set(s.required ?? []);
    const items = Object.entries(s.properties).map(([name, prop]) => line(name, prop, required.has(name)));
    if (s.additionalProperties && typeof s.additionalProperties === 'object') items.push(line('[key]', s.additionalProperties, false));
    if (items.length === 0) items.push(h('li', { class: 'muted', text: s.additionalProperties === false ? 'an empty object' : 'any object' }));
    return h('ul', { class: 'schema' }, items);
  }
  if (s.type === 'object' && s.additionalProperties) {
    return h('ul', { class: 'schema' }, line('[key]', s.additionalProperties, false));
  }
  return h('div', {}, typeOf(s), constraints(s) ? h('span', { class: 'constraint' }, ` (${constraints(s)})`) : null);
}

function renderOperation(method, path, op) {
  const auth = op.security && op.security.length === 0 ? 'public' : op['x-required-role'] === 'admin' ? 'admin token' : 'bearer token';
  const params = op.parameters ?? [];
  const body = op.requestBody?.content?.['application/json']?.schema;
  return h(
    'details',
    { class: 'op', id: op.operationId },
    h(
      'summary',
      {},
      h('span', { class: `method method-${method}`, text: method }),
      h('span', { class: 'path', text: path }),
      h('span', { text: op.summary }),
      h('span', { class: 'auth', text: auth }),
    ),
    h(
      'div',
      { class: 'op-body' },
      op.description ? h('p', {}, prose(op.description)) : null,
      params.length > 0
        ? h(
            'section',
            {},
            h('h4', { text: 'Parameters' }),
            h(
              'table',
              {},
              h('tr', {}, h('th', { text: 'name' }), h('th', { text: 'in' }), h('th', { text: 'schema' }), h('th', { text: 'about' })),
              params.map((p) =>
                h(
                  'tr',
                  {},
                  h('td', {}, h('code', { text: p.name }), p.required ? h('span', { class: 'req', text: '*' }) : null),
                  h('td', { text: p.in }),
                  h('td', {}, typeOf(p.schema), constraints(p.schema) ? h('span', { class: 'constraint' }, ` (${constraints(p.schema)})`) : null),
                  h('td', { text: p.description ?? '' }),
                ),
              ),
            ),
          )
        : null,
      body
        ? h('section', {}, h('h4', { text: `Body (application/json${op.requestBody.required ? '' : ', optional'})` }), renderSchema(body))
        : null,
      h(
        'section',
        {},
        h('h4', { text: 'Responses' }),
        h(
          'table',
          {},
          Object.entries(op.responses).map(([status, r]) => {
            const [type, media] = Object.entries(r.content ?? {})[0] ?? [];
            const headers = Object.keys(r.headers ?? {});
            return h(
              'tr',
              {},
              h('td', {}, h('span', { class: `status status-${status[0]}`, text: status })),
              h(
                'td',
                {},
                r.description,
                headers.length > 0 ? h('div', { class: 'muted' }, `headers: ${headers.join(', ')}`) : null,
                media?.schema ? renderSchema(media.schema) : type ? h('div', { class: 'muted', text: type }) : null,
              ),
            );
          }),
        ),
      ),
    ),
  );
}

function render(doc) {
  const byTag = new Map((doc.tags ?? []).map((t) => [t.name, { about: t.description, ops: [] }]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      for (const tag of op.tags ?? ['other']) {
        if (!byTag.has(tag)) byTag.set(tag, { ops: [] });
        byTag.get(tag).ops.push([method, path, op]);
      }
    }
  }
  const auth = doc.components?.securitySchemes?.bearerAuth;
  const content = [
    h('h1', { text: doc.info.title }),
    h('p', { class: 'muted', text: `OpenAPI ${doc.openapi} · version ${doc.info.version}` }),
    doc.info.description ? h('p', {}, prose(doc.info.description)) : null,
    auth ? h('p', {}, 'Authentication: ', h('code', { text: `Authorization: Bearer <${auth.bearerFormat ?? 'token'}>` }), ' — ', prose(auth.description ?? '')) : null,
    [...byTag].filter(([, g]) => g.ops.length > 0).map(([tag, g]) => [
      h('h2', { text: tag }),
      g.about ? h('p', { class: 'muted', text: g.about }) : null,
      g.ops.map(([method, path, op]) => renderOperation(method, path, op)),
    ]),
    h('h2', { text: 'Schemas' }),
    Object.entries(doc.components?.schemas ?? {}).map(([name, s]) =>
      h(
        'details',
        { class: 'op', id: `schema-${name}` },
        h('summary', {}, h('span', { class: 'path', text: name }), s.description ? h('span', { class: 'muted', text: s.description }) : null),
        h('div', { class: 'op-body' }, renderSchema(s)),
      ),
    ),
  ];
  main.replaceChildren(...content.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  main.removeAttribute('aria-busy');
  // Opening a #schema-… link opens its section.
  const open = () => {
    const target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && target.tagName === 'DETAILS') target.open = true;
  };
  window.addEventListener('hashchange', open);
  open();
}

fetch('/api/openapi.json')
  .then((res) => {
    if (!res.ok) throw new Error(`GET /api/openapi.json answered ${res.status}`);
    return res.json();
  })
  .then(render)
  .catch((err) => {
    main.replaceChildren(h('p', { class: 'error', role: 'alert', text: `Could not load the API description: ${err.message}` }));
    main.removeAttribute('aria-busy');
  });
