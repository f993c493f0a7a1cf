// Package queries holds the queries the facade is measured and tested with: the load
// benchmark's q1, q2 and q3, the legitimate queries its default limits must admit, and the attack
// corpus they must refuse, quickly and without calling the upstream. It belongs to the service
// module, not to bench/ (a module of its own that requires this one), because the service's
// tests send these queries and the service must not depend on its benchmarks.
package queries

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// The load benchmark's queries, bench/stats' BI question over many contracts (variables ids,
// from and now; see StatsVariables), the BI tools' query (historyStats with per-contract rows and
// totals, every aggregate selected; over the 100 ids of DemoContracts it must pass the default
// limits), and GraphiQL's introspection query (graphql-js 16's, as the playground sends it).
var (
	//go:embed q1.graphql
	Q1 string
	//go:embed q2.graphql
	Q2 string
	//go:embed q3.graphql
	Q3 string
	//go:embed stats.graphql
	Stats string
	//go:embed introspection.graphql
	Introspection string
	//go:embed historystats.graphql
	HistoryStats string
)

// Query is a legitimate request: the facade must answer it with data under its default limits.
type Query struct {
	Name      string
	Query     string
	Variables map[string]any
}

// EveryField selects every field of the named type, recursively, leaving out Contract.history
// (its tickets would recurse for ever).
func EveryField(s *ast.Schema, typeName string) string {
	var b strings.Builder
	everyField(s, typeName, &b)
	return b.String()
}

func everyField(s *ast.Schema, typeName string, b *strings.Builder) {
	b.WriteString("{")
	for _, f := range s.Types[typeName].Fields {
		if strings.HasPrefix(f.Name, "__") || typeName == "Contract" && f.Name == "history" {
			continue
		}
		b.WriteString(" " + f.Name)
		if def := s.Types[f.Type.Name()]; def.Kind == ast.Object {
			everyField(s, def.Name, b)
		}
	}
	b.WriteString(" }")
}

// StatsVariables are the variables of Stats: the contract ids; the tickets created since from
// count; open tickets are overdue at now (both RFC 3339).
func StatsVariables(ids []string, from, now string) map[string]any {
	return map[string]any{"ids": ids, "from": from, "now": now}
}

// DemoContracts are 100 contract ids the demo upstream knows.
func DemoContracts() []string {
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprint(100001 + i)
	}
	return ids
}

// Legitimate are the queries the default limits must admit (issue 8): every field of one
// contract's history; the same with its customers' contract histories one level down; a
// 100-contract list view; a dashboard of 20 aliased contracts (q3); the benchmark's other
// queries; bench/stats' BI question; GraphiQL's introspection query; the BI tools' historyStats
// over 100 contracts. The examples of README.md and docs/*.md are added by the test that sends
// these, which reads them from those files.
func Legitimate(s *ast.Schema) []Query {
	every := `query EveryField($id: ID!) { contract(id: $id) ` +
		strings.Replace(EveryField(s, "Contract"), " tabPreview", " history { contractId tickets "+EveryField(s, "Ticket")+" } tabPreview", 1) + ` }`
	nested := strings.Replace(every, " customer{", " customer{ contracts { id history { tickets { id status } } }", 1)
	return []Query{
		{"every field of one contract's history", every, map[string]any{"id": "746839"}},
		{"the same, with the customers' contract histories one level down", nested, map[string]any{"id": "746839"}},
		{"a 100-contract list view", `query List($ids: [ID!]!) { contracts(ids: $ids) { id productName status history { tickets { id createdAt status channel subject } } } }`,
			map[string]any{"ids": DemoContracts()}},
		{"q1", Q1, nil},
		{"q2", Q2, nil},
		{"q3: a dashboard of 20 aliased contracts", Q3, nil},
		{"bench/stats: historyStats over 100 contracts with per-contract rows", Stats,
			StatsVariables(DemoContracts(), "2024-01-01T00:00:00+01:00", "2025-09-30T12:00:00Z")},
		{"GraphiQL's introspection query", Introspection, nil},
		{"historyStats over 100 contracts, every aggregate, with rows and totals", HistoryStats, map[string]any{"ids": DemoContracts()}},
	}
}

// Attack is a request the facade must refuse before any upstream call, with one of Codes (an
// HTTP-level refusal has Status instead). Refused means no data, but for BAD_USER_INPUT: an
// invalid contract id is that contract's error, with its field null.
type Attack struct {
	Name   string
	Body   []byte // a POST body
	Codes  []string
	Status int // for refusals without a GraphQL answer: 413, 400
}

func body(query string, vars map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		panic(err)
	}
	return b
}

// nested follows contract.history.tickets.customer.contracts.history n times.
func nested(n int) string {
	q := "id"
	for range n {
		q = "history { tickets { customer { contracts { " + q + " } } } }"
	}
	return `{ contract(id: "100001") { id ` + q + ` } }`
}

// Attacks is the corpus of issue 8's table and more of its kind: each is refused, with the
// code given, in milliseconds, and costs no upstream call.
func Attacks() []Attack {
	var list []Attack
	add := func(name string, b []byte, codes ...string) {
		list = append(list, Attack{Name: name, Body: b, Codes: codes})
	}
	ids := func(n, from int) string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf("%q", fmt.Sprint(from+i))
		}
		return strings.Join(s, ",")
	}
	aliasedContracts := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, " a%d: contracts(ids: [%s]) { id }", i, ids(100, 100000+100*i))
		}
		return b.String() + " }"
	}
	repeat := func(n int, s string) string { return strings.Repeat(s, n) }

	add("history nested 5 times (333 B)", body(nested(5), nil), "QUERY_TOO_DEEP")
	add("history nested 6 times", body(nested(6), nil), "QUERY_TOO_DEEP")
	add("history nested 3 times (within the depth limit)", body(nested(3), nil), "QUERY_TOO_COMPLEX")
	add("100 aliases of contracts(100 distinct ids) (100 KB)", body(aliasedContracts(100), nil), "TOO_MANY_TOKENS")
	add("400 aliases of contracts(100 distinct ids) (400 KB)", body(aliasedContracts(400), nil), "TOO_MANY_TOKENS")
	add("2 aliases of contracts(100 distinct ids): 200 distinct contracts and more", body(`{ a: contracts(ids: [`+ids(100, 1)+`]) { id } b: contracts(ids: [`+ids(100, 101)+`]) { id } c: contract(id: "x") { id } }`, nil), "TOO_MANY_CONTRACTS")
	var tickets strings.Builder
	tickets.WriteString("{")
	for i := range 2000 {
		fmt.Fprintf(&tickets, ` a%d: contract(id: "746839") { history { tickets { body bodyPlain } } }`, i)
	}
	add("2,000 aliases of one contract's tickets { body bodyPlain } (150 KB)", body(tickets.String()+" }", nil), "TOO_MANY_TOKENS")
	var fewer strings.Builder
	fewer.WriteString("{")
	for i := range 60 {
		fmt.Fprintf(&fewer, ` a%d: contract(id: "746839") { history { tickets { body } } }`, i)
	}
	add("60 aliases of one contract's tickets { body } (within the token limit)", body(fewer.String()+" }", nil), "TOO_MANY_ALIASES")
	add("one field repeated 20,000 times (100 KB)", body(`{ contract(id: "746839") { `+repeat(20000, "id ")+`} }`, nil), "TOO_MANY_TOKENS")
	add("one field repeated 1,900 times (within the token limit)", body(`{ contract(id: "746839") { `+repeat(1900, "id ")+`} }`, nil), "TOO_MANY_REPEATED_FIELDS")
	add("a conflicting alias 500 times (validation would report 60,000 conflicts)", body(`{ contract(id: "746839") { `+repeat(250, "a: id a: status ")+`} }`, nil), "TOO_MANY_REPEATED_FIELDS")
	add("one field with 5,000 directives (95 KB)", body(`{ contract(id: "746839") { id `+repeat(5000, "@skip(if: false) ")+`} }`, nil), "TOO_MANY_TOKENS")
	add("one field with 250 directives (within the token limit)", body(`{ contract(id: "746839") { id `+repeat(250, "@skip(if: false) ")+`} }`, nil), "TOO_MANY_DIRECTIVES")
	add("600 aliases of __typename", body("{ "+func() string {
		var b strings.Builder
		for i := range 600 {
			fmt.Fprintf(&b, "t%d: __typename ", i)
		}
		return b.String()
	}()+"}", nil), "TOO_MANY_ALIASES")
	var fan strings.Builder
	fan.WriteString(`query { contract(id: "746839") { ...F0 } }`)
	for i := range 30 {
		fmt.Fprintf(&fan, " fragment F%d on Contract { id ...F%d ...F%d }", i, i+1, i+1)
	}
	fan.WriteString(" fragment F30 on Contract { id }")
	add("fragment fan-out: 30 fragments each spreading the next twice (2^30 fields inlined)", body(fan.String(), nil), "TOO_MANY_REPEATED_FIELDS")
	var fanAliases strings.Builder
	fanAliases.WriteString(`query { contract(id: "746839") { ...F0 } }`)
	for i := range 20 {
		fmt.Fprintf(&fanAliases, " fragment F%d on Contract { a%d: status ...F%d }", i, i, i+1)
	}
	fanAliases.WriteString(" fragment F20 on Contract { history { tickets { ...T0 } } }")
	for i := range 20 {
		fmt.Fprintf(&fanAliases, " fragment T%d on Ticket { t%d: id ...T%d }", i, i, i+1)
	}
	fanAliases.WriteString(" fragment T20 on Ticket { id }")
	add("aliases spread through 40 fragments", body(fanAliases.String(), nil), "TOO_MANY_ALIASES")
	var pages strings.Builder
	pages.WriteString(`{ contract(id: "746839") { history { a0: ticketsConnection(first: 0) { ...E }`)
	for i := 1; i < 30; i++ {
		fmt.Fprintf(&pages, " a%d: ticketsConnection { ...E }", i)
	}
	pages.WriteString(" } } } fragment E on TicketConnection { edges { node { intents { options { name } infos { code } outcome { sources { name } } } } } }")
	add("one fragment in 30 ticketsConnections, the first of no edges (a fragment costs what its page does)", body(pages.String(), nil), "QUERY_TOO_COMPLEX")
	add("history nested through a fragment cycle", body(`{ contract(id: "746839") { ...C } } fragment C on Contract { history { tickets { customer { contracts { ...C } } } } }`, nil), "GRAPHQL_VALIDATION_FAILED")
	add("introspection nested 10 times", body(`{ __schema { types { `+repeat(10, "fields { type { ")+"name"+repeat(10, " } }")+` } } }`, nil), "QUERY_TOO_DEEP")
	add("introspection: ofType 200 deep", body(`{ __type(name: "Query") { `+repeat(200, "ofType { ")+"name"+repeat(200, " }")+` } }`, nil), "QUERY_TOO_DEEP")
	add("introspection: fields within fields within fields", body(`{ __schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } } }`, nil), "GRAPHQL_VALIDATION_FAILED")
	add("selection sets nested 5,000 deep", body(repeat(5000, "{ a ")+repeat(5000, "}"), nil), "TOO_MANY_TOKENS", "GRAPHQL_PARSE_FAILED")
	var ops strings.Builder
	for i := range 300 {
		fmt.Fprintf(&ops, "query Q%d { a%d: __typename } ", i, i)
	}
	add("300 operations in one document", []byte(fmt.Sprintf(`{"query":%q,"operationName":"Q7"}`, ops.String())), "TOO_MANY_TOKENS")
	many := make([]string, 50_000)
	for i := range many {
		many[i] = fmt.Sprint(200000 + i)
	}
	add("50,000 contract ids in a variable (450 KB)", body(`query($ids: [ID!]!) { contracts(ids: $ids) { id } }`, map[string]any{"ids": many}), "BAD_USER_INPUT")
	add("a 900 KB string variable", body(`query($id: ID!) { contract(id: $id) { id } }`, map[string]any{"id": strings.Repeat("9", 900_000)}), "BAD_USER_INPUT")
	deep := repeat(5000, "[") + repeat(5000, "]")
	add("variables nested 5,000 deep", []byte(`{"query":"query($x: [ID]) { __typename }","variables":{"x":`+deep+`}}`), "BAD_USER_INPUT")
	list = append(list,
		Attack{Name: "a body of 2 MiB", Body: body(`{ __typename }`, map[string]any{"pad": strings.Repeat("x", 2<<20)}), Status: 413},
		Attack{Name: "a batch of 1,000 operations", Body: []byte("[" + strings.TrimSuffix(repeat(1000, `{"query":"{ contract(id: \"1\") { id } }"},`), ",") + "]"), Status: 400},
	)
	return list
}
