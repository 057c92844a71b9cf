/** A start-up problem whose message tells the operator what to do (and holds no data). */
export class StartupError extends Error {
  override name = 'StartupError';
}
