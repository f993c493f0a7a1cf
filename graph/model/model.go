// Package model holds the GraphQL types that are not upstream types.
package model

import "github.com/enneo-facade/facade/upstream"

// ContractHistory is one contract's ticket history as the GraphQL layer hands it out.
type ContractHistory struct {
	ContractID string
	Tickets    []*upstream.Ticket
}
