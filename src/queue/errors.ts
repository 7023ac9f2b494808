// A user's error as a value: a Redis error prefix (ERR, NOGROUP, BUSYGROUP, ...) and a message.
// The command layer turns it into a RESP error reply; the connection stays open.
export class UserError extends Error {
  constructor(
    readonly prefix: string,
    message: string,
  ) {
    super(message);
  }

  /** The text after `-` in a RESP error reply. */
  get reply(): string {
    return `${this.prefix} ${this.message}`;
  }
}

export const syntaxError = () => new UserError("ERR", "syntax error");
