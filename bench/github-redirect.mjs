// Preloaded into @modelcontextprotocol/server-github (node --import), which hard-codes
// https://api.github.com: sends its requests to the fake API named by FAKE_GITHUB instead.
const target = process.env.FAKE_GITHUB;
const real = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  const moved = url.startsWith("https://api.github.com") ? target + url.slice("https://api.github.com".length) : url;
  return real(moved, init);
};
