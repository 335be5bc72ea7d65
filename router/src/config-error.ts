// A config file that can't be used; the message names the JSON path of the bad key.
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
