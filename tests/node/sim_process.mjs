// Shared by the Node tests: start pdsim-simulator on 127.0.0.1:0 and read its real
// port from the 'listening' log line; stop it and return its exit code.
import { spawn } from 'node:child_process';
import readline from 'node:readline';

export const BIN = process.env.PDSIM_SIMULATOR ?? 'build/simulator/pdsim-simulator';

// Resolves to { proc, port }; rejects after 15 s or when the process exits first.
export async function startSimulator(args) {
  const proc = spawn(BIN, ['--host', '127.0.0.1', '--port', '0', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no listening line')), 15000);
    readline.createInterface({ input: proc.stderr }).on('line', (line) => {
      try {
        const j = JSON.parse(line);
        if (j.msg === 'listening') { clearTimeout(timer); resolve(j.port); }
      } catch { /* not JSON */ }
    });
    proc.on('exit', (code) => reject(new Error(`simulator exited ${code}`)));
  });
  return { proc, port };
}

// SIGTERM, then the exit code.
export async function stopSimulator(proc) {
  const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  proc.kill('SIGTERM');
  return exited;
}
