// autocannon setupRequest (loaded inside its worker threads, hence CommonJS): a new
// Idempotency-Key on every request, so each one claims a key and stores its response.
const { randomUUID } = require('node:crypto');

module.exports = (request) => ({
  ...request,
  headers: { ...request.headers, 'idempotency-key': randomUUID() },
});
