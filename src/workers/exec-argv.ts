/**
 * `execArgv` for every piscina pool we start (write-pool.ts, the bzip2 block pool).
 *
 * Node 20's require(esm) aborts the process now and then when a worker thread loads an ES
 * module (V8 fatal "IsGraphAsync must be used on an instantiated module", or the assertion in
 * ModuleWrap::CreateRequiredModuleFacade): about 1 in 2000 worker starts, also with a trivial
 * worker file, never with a CommonJS one (found by the security tests, which start hundreds of
 * pools). piscina tries require() before import(), so require(esm) is turned off for our
 * workers and piscina falls back to import().
 */
export const workerExecArgv: string[] | undefined = process.allowedNodeEnvironmentFlags.has(
  '--no-experimental-require-module',
)
  ? ['--no-experimental-require-module'] // alone: process-wide flags (--max-old-space-size) are refused in workers
  : undefined;
