// Preloaded into @modelcontextprotocol/server-slack (node --import), which hard-codes
// https://slack.com/api: sends its requests to the fake Web API named by FAKE_SLACK instead.
const base = "https://slack.com/api";
const target = process.env.FAKE_SLACK;
const real = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  return real(url.startsWith(base) ? target + url.slice(base.length) : url, init);
};
