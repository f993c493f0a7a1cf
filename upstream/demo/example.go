package demo

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"sync"
)

// exampleJSON is a copy of shared/enneo/contract-history.example.json, the upstream's documented
// example response: one ticket with every field.
//
//go:embed example.json
var exampleJSON []byte

// ExampleHistory returns the raw bytes of the upstream's documented example response (one
// ticket, every field). Its ticket is served unchanged in the history of ExampleContractID, so
// tests elsewhere can compare what they get through the facade with these bytes. The caller
// owns the returned slice.
func ExampleHistory() []byte { return bytes.Clone(exampleJSON) }

// example is what the generator needs from example.json.
type example struct {
	ticket     json.RawMessage // served as is, so it decodes equal to the example's ticket
	customer   *customer       // shared by the generated tickets of the example contract
	customerID string          // the ticket's customerId ("123"), kept for those tickets too
	createdAt  string          // where the ticket goes in the chronological order
}

// parsedExample decodes example.json once. Unknown fields are an error, so the embedded file
// and this package's types cannot drift apart unnoticed; a test makes any such error fail
// before it can reach a request.
var parsedExample = sync.OnceValue(func() *example {
	var h struct {
		Tickets []json.RawMessage `json:"tickets"`
	}
	if err := json.Unmarshal(exampleJSON, &h); err != nil || len(h.Tickets) != 1 {
		panic("demo: example.json must hold exactly one ticket")
	}
	var t ticket
	dec := json.NewDecoder(bytes.NewReader(h.Tickets[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		panic("demo: decode example.json: " + err.Error())
	}
	return &example{ticket: h.Tickets[0], customer: t.Customer, customerID: t.CustomerID, createdAt: t.CreatedAt}
})
