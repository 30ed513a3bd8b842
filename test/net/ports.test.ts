import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { it } from 'node:test';
import { asPortInUse, assertPortFree, PortInUseError } from '../../src/net/ports.js';

it('asPortInUse names the variable only for the port it was given', async () => {
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  const port = (holder.address() as { port: number }).port;
  try {
    const real = await new Promise<Error>((resolve) => {
      const s = createServer();
      s.once('error', resolve);
      s.listen(port, '127.0.0.1');
    });
    assert.equal((real as { code?: string }).code, 'EADDRINUSE');
    const mine = asPortInUse(real, port, 'PORT');
    assert.ok(mine instanceof PortInUseError);
    assert.equal(mine.variable, 'PORT');
    // Another listener of the same process (a metrics port, say) failing is not PORT's problem.
    assert.equal(asPortInUse(real, port + 1, 'PORT'), real);
    const other = new Error('boom');
    assert.equal(asPortInUse(other, port, 'PORT'), other);

    await assert.rejects(assertPortFree(port, 'X_PORT'), /port \d+ on 127\.0\.0\.1 is already in use \(X_PORT\)/);
    await assertPortFree(0, 'X_PORT'); // 0: any free port, nothing to check
  } finally {
    await new Promise((r) => holder.close(r));
  }
  await assertPortFree(port, 'X_PORT'); // free again: the check itself leaves nothing bound
  await assertPortFree(port, 'X_PORT');
});
