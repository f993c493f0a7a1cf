#!/usr/bin/env bash
# update-assets.sh vendors the GraphiQL playground's third-party files into assets/.
#
# The playground must work on machines with no CDN in reach, so the binary serves
# GraphiQL and React itself. This script is the only way those files change: bump a
# version below, run it (it needs npm and network access to the npm registry),
# look at the diff, and run `go test ./graph/playground/...`, whose browser test
# proves that the new build still renders and runs a query under the page's
# Content-Security-Policy. It touches only the vendored files, VERSIONS,
# SHA256SUMS and LICENSES/; playground.js and playground.css are ours.
#
# GraphiQL 3 is the last major version with a UMD build that runs from plain
# <script> tags with React 18; GraphiQL 4 and later need a bundler or ES modules.
set -euo pipefail

GRAPHIQL_VERSION=3.9.0
REACT_VERSION=18.3.1
# GraphiQL's Explorer (tick fields to build a query), the last major for GraphiQL 3: its UMD
# build takes React and GraphiQL's @graphiql/react and graphql-js from the page's globals.
EXPLORER_VERSION=3.2.6

assets="$(cd "$(dirname "$0")" && pwd)/assets"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

# npm pack fetches the published tarballs only: no install scripts run and
# nothing is written outside this temporary directory.
npm pack --silent --json "graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" \
	"react-dom@$REACT_VERSION" "@graphiql/plugin-explorer@$EXPLORER_VERSION" >packed.json
for tarball in "graphiql-$GRAPHIQL_VERSION.tgz" "react-$REACT_VERSION.tgz" \
	"react-dom-$REACT_VERSION.tgz" "graphiql-plugin-explorer-$EXPLORER_VERSION.tgz"; do
	pkg="${tarball%-*}"
	mkdir "$pkg"
	tar -xzf "$tarball" -C "$pkg" --strip-components=1
done

# The files are copied byte for byte (SHA256SUMS lets a reviewer compare them
# with the published tarballs). GraphiQL's "min" files are its UMD build; its
# source maps (4 MB) are left out.
cp graphiql/graphiql.min.js graphiql/graphiql.min.css "$assets/"
cp react/umd/react.production.min.js "$assets/"
cp react-dom/umd/react-dom.production.min.js "$assets/"
cp graphiql-plugin-explorer/dist/index.umd.js "$assets/graphiql-plugin-explorer.umd.js"
cp graphiql-plugin-explorer/dist/style.css "$assets/graphiql-plugin-explorer.css"

rm -rf "$assets/LICENSES"
mkdir "$assets/LICENSES"
for pkg in graphiql react react-dom; do
	cp "$pkg/LICENSE" "$assets/LICENSES/$pkg.LICENSE"
done
# The explorer's tarball carries no LICENSE file; its package.json says MIT, as GraphiQL's,
# whose copyright (the GraphQL Contributors) it shares.
cp graphiql/LICENSE "$assets/LICENSES/graphiql-plugin-explorer.LICENSE"

{
	echo "# Vendored by ../update-assets.sh with npm pack; edit the versions there."
	echo "# package version license npm-integrity"
	node -e '
		const packs = JSON.parse(require("fs").readFileSync("packed.json", "utf8"));
		for (const p of packs) {
			const meta = JSON.parse(require("fs").readFileSync(p.name.replace(/^@graphiql\//, "graphiql-") + "/package.json", "utf8"));
			console.log([p.name, p.version, meta.license, p.integrity].join(" "));
		}'
	echo "# graphiql.min.js bundles GraphiQL's own MIT-licensed dependencies"
	echo "# (@graphiql/react, CodeMirror 5, graphql-js, Radix UI, ...); their notices"
	echo "# are kept inside the file."
} >"$assets/VERSIONS"

(
	cd "$assets"
	sha256sum graphiql.min.css graphiql.min.js react-dom.production.min.js \
		react.production.min.js graphiql-plugin-explorer.umd.js graphiql-plugin-explorer.css >SHA256SUMS
)
echo "vendored graphiql@$GRAPHIQL_VERSION, react@$REACT_VERSION and @graphiql/plugin-explorer@$EXPLORER_VERSION into $assets"
