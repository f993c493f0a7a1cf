package graph

import (
	"strings"
	"testing"
)

// The playground's Docs panel is the API's documentation: every type, field and argument of
// ours must say what it is.
func TestSchemaIsDocumented(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	for _, def := range schema.Types {
		if def.BuiltIn || strings.HasPrefix(def.Name, "__") {
			continue
		}
		if strings.TrimSpace(def.Description) == "" {
			t.Errorf("type %s has no description", def.Name)
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			if strings.TrimSpace(f.Description) == "" {
				t.Errorf("field %s.%s has no description", def.Name, f.Name)
			}
			for _, a := range f.Arguments {
				if strings.TrimSpace(a.Description) == "" {
					t.Errorf("argument %s.%s(%s) has no description", def.Name, f.Name, a.Name)
				}
			}
		}
	}
}

// Nothing that can exceed 32 bits may be an Int (DESIGN.md, scalars): the Int fields are
// exactly these, all small by nature (the counts of tickets are over at most 100 histories).
func TestIntFieldsAreSmall(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	allowed := map[string]bool{
		"Contract.statusCode": true, "Ticket.customerLegitimation": true, "Attachment.width": true,
		"Attachment.height": true, "Tag.sla": true, "IntentOption.order": true,
		"TicketStats.count": true, "TicketStats.open": true, "TicketConnection.totalCount": true,
		"DueBreaches.closedLate": true, "DueBreaches.openOverdue": true, "DurationStats.count": true,
		"HistoryStats.contracts": true, "HistoryStats.failed": true, "Bucket.count": true,
	}
	for _, def := range schema.Types {
		if def.BuiltIn {
			continue
		}
		for _, f := range def.Fields {
			name := def.Name + "." + f.Name
			if f.Type.Name() == "Int" && !allowed[name] {
				t.Errorf("%s is an Int", name)
			}
			isID := f.Name == "id" || strings.HasSuffix(f.Name, "Id") || strings.HasSuffix(f.Name, "Ids")
			if isID && f.Type.Name() != "ID" {
				t.Errorf("%s is %s, want ID", name, f.Type.Name())
			}
		}
	}
}
