// Nothing: tap imports this into each test process (see README.md).
export {};
