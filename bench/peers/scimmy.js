// SCIMMY (the scimmy npm package) behind its own express middleware (scimmy-routers), as its
// READMEs set them up: the User resource (with the EnterpriseUser extension, which Entra's
// users carry) and the Group resource declared with ingress/egress/degress handlers over an
// in-memory Map each, keyed by id, and bearer authentication with one token. SCIMMY parses
// and validates each body, applies PATCH operations itself (on the resource egress hands it,
// then ingress stores the result) and parses each filter; egress applies the filter with the
// resource's `filter.match`, as SCIMMY's documentation does for values in memory.
// Prints "SCIM base URL: ..." and "Bearer token: ..." once listening, like the gateway.
//
//   NODE_PATH=.venv/peers/npm/node_modules node bench/peers/scimmy.js PORT
'use strict';

const crypto = require('crypto');
const express = require('express');
const SCIMMY = require('scimmy');
const SCIMMYRouters = require('scimmy-routers').default;

const port = Number(process.argv[2] || 8091);
const token = crypto.randomBytes(24).toString('base64url');

// One store per resource type: id -> the stored value (plain JSON, with id and meta).
function declare(Resource, unique) {
  const store = new Map();
  const taken = new Map(); // the `unique` attribute (userName, displayName), lowercased -> id
  const notFound = (id) => new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);

  Resource.ingress((resource, instance) => {
    const value = JSON.parse(JSON.stringify(instance));
    const key = String(value[unique] || '').toLowerCase();
    const owner = taken.get(key);
    if (owner !== undefined && owner !== resource.id) {
      throw new SCIMMY.Types.Error(409, 'uniqueness', `${unique} is not unique`);
    }
    const now = new Date().toISOString();
    const old = resource.id ? store.get(resource.id) : undefined;
    if (resource.id && !old) throw notFound(resource.id);
    if (old) taken.delete(String(old[unique] || '').toLowerCase());
    const id = resource.id || crypto.randomUUID();
    const stored = { ...value, id, meta: { created: old ? old.meta.created : now,
                                           lastModified: now } };
    store.set(id, stored);
    taken.set(key, id);
    return stored;
  });

  Resource.egress((resource) => {
    if (resource.id) {
      const value = store.get(resource.id);
      if (!value) throw notFound(resource.id);
      return value;
    }
    const all = [...store.values()];
    const matched = resource.filter ? resource.filter.match(all) : all;
    const { startIndex = 1, count } = resource.constraints || {};
    if (count === undefined) return matched; // SCIMMY pages it (20 a page)
    // Only the page asked for goes through SCIMMY's schema (it maps every value it is
    // handed), with the number that matched. SCIMMY's ListResponse slices again a list whose
    // length reaches startIndex: such a page is handed over from the first value.
    resource.constraints.totalResults = matched.length;
    const page = matched.slice(startIndex - 1, startIndex - 1 + count);
    return page.length >= startIndex ? matched.slice(0, startIndex - 1 + page.length) : page;
  });

  Resource.degress((resource) => {
    const value = store.get(resource.id);
    if (!value) throw notFound(resource.id);
    taken.delete(String(value[unique] || '').toLowerCase());
    store.delete(resource.id);
  });
  SCIMMY.Resources.declare(Resource);
}

declare(SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false), 'userName');
declare(SCIMMY.Resources.Group, 'displayName');

const app = express();
app.use('/scim', new SCIMMYRouters({
  type: 'bearer',
  handler: (request) => {
    if (request.header('Authorization') !== `Bearer ${token}`) {
      throw new Error('Authorization not detected!');
    }
    return 'bench';
  },
}));

const server = app.listen(port, '127.0.0.1', () => {
  console.log(`SCIM base URL: http://127.0.0.1:${port}/scim`);
  console.log(`Bearer token: ${token}`);
});
server.keepAliveTimeout = 60000;
const stop = () => server.close(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
