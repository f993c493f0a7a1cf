// Package model holds the GraphQL types that are not upstream types, and what they compute
// from a decoded history: filters, orders, pages and aggregates.
package model

import (
	"time"

	"github.com/enneo-facade/facade/upstream"
)

// ContractHistory is one contract's ticket history as the GraphQL layer hands it out. Its
// fields with arguments are methods without a context, which gqlgen runs in line: a resolver
// would cost a goroutine per history.
type ContractHistory struct {
	ContractID string
	// All is every ticket, in upstream order.
	All []*upstream.Ticket
	// Zone places zoneless DateTime arguments and the months of byMonth; Now is when the request
	// arrived, the default of stats' now.
	Zone *time.Location
	Now  time.Time
}

// InputError is an argument that cannot be used as given; the GraphQL layer reports it as
// BAD_USER_INPUT with its message.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }
