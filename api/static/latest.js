// Only the newest answer is shown. A view that reads the service (the table, a detail view,
// the tokens and waiting lists) asks again whenever its controls change; answers can arrive
// in any order, so an answer to an older request must never replace what a newer one asked
// for. Each request takes a ticket: starting one aborts the one before (no wasted reading)
// and makes its ticket stale, so whatever it still returns, answer or error, is dropped.
// Aborting alone would not do: a view may await several requests in a row (the pages on the
// way to a linked one, a client and its history), and only the ticket spans them all.

export class Latest {
  constructor() {
    this.generation = 0;
    this.controller = null;
  }

  // A new request for this view: { signal, current() } where current() stays true until
  // the next one starts (or cancel() is called).
  begin() {
    this.cancel();
    const generation = this.generation;
    const controller = new AbortController();
    this.controller = controller;
    return {
      signal: controller.signal,
      current: () => generation === this.generation,
    };
  }

  // One read as a new request: { value } with its answer, or null when a newer request (or
  // cancel()) came first; its error is thrown only while it is still the newest.
  async read(request) {
    const ticket = this.begin();
    try {
      const value = await request(ticket.signal);
      return ticket.current() ? { value } : null;
    } catch (error) {
      if (ticket.current()) throw error;
      return null;
    }
  }

  // No answer still on its way is wanted any more (the view closed or will ask again).
  cancel() {
    this.generation += 1;
    if (this.controller) this.controller.abort();
    this.controller = null;
  }
}
