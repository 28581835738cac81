// Runs named async checks one after another, prints one line per check
// ("ok - name: detail" or "FAIL - name: error"), and exits the process:
// 0 when every check passed, 1 otherwise.

const checkTimeoutMs = 30_000;

function withTimeout(promise, name) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name}: no result within ${checkTimeoutMs} ms`)),
                       checkTimeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function runChecks(checks) {
  let failed = 0;
  for (const [name, check] of checks) {
    try {
      const detail = await withTimeout(check(), name);
      console.log(`ok - ${name}${detail === undefined ? '' : `: ${detail}`}`);
    } catch (error) {
      ++failed;
      const text = error?.stack ?? String(error);
      console.log(`FAIL - ${name}: ${text.replace(/\n/g, '\n    ')}`);
    }
  }
  console.log(failed === 0 ? `all ${checks.length} checks passed`
                           : `${failed} of ${checks.length} checks failed`);
  // Explicitly: a request left hanging by a timed-out check must not keep
  // the process alive.
  process.exit(failed === 0 ? 0 : 1);
}
