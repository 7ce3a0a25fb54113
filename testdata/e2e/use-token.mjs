// Uses the minted token against the simulator: lists the repositories the
// installation token can see. Prints only counts and names, never the token.
const token = process.env.TOKEN;
const api = process.env.GITHUB_API_URL.replace(/\/?$/, "/");
if (!token) {
  console.log("e2e: no token output");
  process.exit(1);
}
const res = await fetch(api + "installation/repositories", {
  headers: { authorization: "token " + token, accept: "application/vnd.github+json" },
});
const body = await res.json();
if (!res.ok) {
  console.log(`e2e: GET installation/repositories: ${res.status}`);
  process.exit(1);
}
console.log(`e2e-token-works: ${body.total_count} repositories: ${body.repositories.map((r) => r.full_name).join(",")}`);
