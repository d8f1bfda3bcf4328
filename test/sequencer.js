const Sequencer = require('@jest/test-sequencer').default;

/**
 * Jest's own order (slowest and failed first), except that the OpenAPI conformance
 * test runs last: it reads the responses every earlier test recorded (run in band, as
 * `npm test` does, it sees them all).
 */
const LAST = /[\\/]test[\\/]openapi-conformance\.test\.ts$/;

class OpenApiLastSequencer extends Sequencer {
  sort(tests) {
    const sorted = super.sort(tests);
    const order = (list) => [...list.filter((t) => !LAST.test(t.path)), ...list.filter((t) => LAST.test(t.path))];
    return sorted instanceof Promise ? sorted.then(order) : order(sorted);
  }
}

module.exports = OpenApiLastSequencer;
