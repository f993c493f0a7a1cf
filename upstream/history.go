package upstream

import "encoding/json"

// History is the body of GET /contract/{id}/history: every ticket of a contract, oldest first.
type History struct {
	Tickets []*Ticket `json:"tickets"`
	Issues
	// Lenient is true when some value anywhere in the history could not be decoded, so that
	// readers look for Issues only then.
	Lenient bool `json:"-"`
}

// Ticket is one upstream ticket with every documented field. Pointers and nil slices stand for
// JSON null or an absent field; json.RawMessage holds free-form values unchanged.
type Ticket struct {
	ID                          *ID              `json:"id"`
	Direction                   *string          `json:"direction"`
	From                        *string          `json:"from"`
	FromName                    *string          `json:"fromName"`
	To                          []string         `json:"to"`
	CcEmails                    []string         `json:"ccEmails"`
	BccEmails                   []string         `json:"bccEmails"`
	ReplyCcEmails               []string         `json:"replyCcEmails"`
	ReplyRecipients             *ReplyRecipients `json:"replyRecipients"`
	SubchannelID                *ID              `json:"subchannelId"`
	ExternalTicketID            *ID              `json:"externalTicketId"`
	Sentiment                   *string          `json:"sentiment"`
	Language                    *string          `json:"language"`
	LanguageCode                *string          `json:"languageCode"`
	AutoExecuteAt               *Time            `json:"autoExecuteAt"`
	SpamStatus                  *string          `json:"spamStatus"`
	IsCustomerActive            *Flag            `json:"isCustomerActive"`
	Interface                   *string          `json:"interface"`
	Priority                    *string          `json:"priority"`
	Channel                     *string          `json:"channel"`
	ChannelID                   *ID              `json:"channelId"`
	Status                      *string          `json:"status"`
	Summary                     *string          `json:"summary"`
	Subject                     *string          `json:"subject"`
	BodyPlain                   *string          `json:"bodyPlain"`
	Body                        *string          `json:"body"`
	BodyClean                   *string          `json:"bodyClean"`
	IsEscalated                 *Flag            `json:"isEscalated"`
	CreatedAt                   *Time            `json:"createdAt"`
	ModifiedAt                  *Time            `json:"modifiedAt"`
	FirstResponseDueBy          *Time            `json:"firstResponseDueBy"`
	DueBy                       *Time            `json:"dueBy"`
	ClosedAt                    *Time            `json:"closedAt"`
	Customer                    *Customer        `json:"customer"`
	CustomerID                  *ID              `json:"customerId"`
	ContractID                  *ID              `json:"contractId"`
	PartnerID                   *ID              `json:"partnerId"`
	CustomerLegitimation        *int             `json:"customerLegitimation"`
	CustomerLegitimationMessage *string          `json:"customerLegitimationMessage"`
	ResponderID                 *ID              `json:"responderId"`
	AgentID                     *ID              `json:"agentId"`
	Agent                       *Agent           `json:"agent"`
	AssignedAgentIds            []ID             `json:"assignedAgentIds"`
	AssignedAgents              []*Agent         `json:"assignedAgents"`
	WorkedOnByIds               []ID             `json:"workedOnByIds"`
	WorkedOnBy                  []*Agent         `json:"workedOnBy"`
	Attachments                 []*Attachment    `json:"attachments"`
	AdditionalData              json.RawMessage  `json:"additionalData"`
	Template                    *string          `json:"template"`
	Tags                        []*Tag           `json:"tags"`
	TagIds                      []ID             `json:"tagIds"`
	AgentSkillsMatch            *Flag            `json:"agentSkillsMatch"`
	Intents                     []*Intent        `json:"intents"`
	RawData                     json.RawMessage  `json:"rawData"`
	Workitem                    json.RawMessage  `json:"workitem"`
	Issues
}

// ReplyRecipients are the addresses a reply goes to; they supersede ccEmails and friends.
type ReplyRecipients struct {
	To  []string `json:"to"`
	Cc  []string `json:"cc"`
	Bcc []string `json:"bcc"`
	Issues
}

// Customer is the customer a ticket belongs to, with all of their contracts.
type Customer struct {
	ID             *ID             `json:"id"`
	EmailMatches   *Flag           `json:"emailMatches"`
	Business       *Flag           `json:"business"`
	Company        *string         `json:"company"`
	Firstname      *string         `json:"firstname"`
	Lastname       *string         `json:"lastname"`
	Address        *string         `json:"address"`
	Phone          *Text           `json:"phone"`
	Email          *string         `json:"email"`
	Tags           []*Tag          `json:"tags"`
	Contracts      []*Contract     `json:"contracts"`
	AdditionalData json.RawMessage `json:"additionalData"`
	Issues
}

// Contract is an energy supply contract as embedded in a ticket's customer.
type Contract struct {
	ID               *ID                 `json:"id"`
	OrderID          *ID                 `json:"orderId"`
	Tenant           json.RawMessage     `json:"tenant"`
	CustomerID       *ID                 `json:"customerId"`
	SignupDate       *Time               `json:"signupDate"`
	Status           *string             `json:"status"`
	StatusCode       *int                `json:"statusCode"`
	StatusCodeTitle  *string             `json:"statusCodeTitle"`
	Energy           *string             `json:"energy"`
	EnergyTypeID     *ID                 `json:"energyTypeId"`
	EnergySubTypeID  *ID                 `json:"energySubTypeId"`
	Email            *string             `json:"email"`
	Firstname        *string             `json:"firstname"`
	Lastname         *string             `json:"lastname"`
	DeliveryAddress  *string             `json:"deliveryAddress"`
	Iban             *string             `json:"iban"`
	MonthlyDeposit   *float64            `json:"monthlyDeposit"`
	StartDate        *Time               `json:"startDate"`
	EndDate          *Time               `json:"endDate"`
	Consumption      *float64            `json:"consumption"`
	CounterNumber    *Text               `json:"counterNumber"`
	ProductID        *ID                 `json:"productId"`
	ProductName      *string             `json:"productName"`
	ProductCode      *string             `json:"productCode"`
	CampaignID       *ID                 `json:"campaignId"`
	SalesChannelID   *ID                 `json:"salesChannelId"`
	UnpaidDebt       *float64            `json:"unpaidDebt"`
	VatRate          *float64            `json:"vatRate"`
	BasePrice        *float64            `json:"basePrice"`
	WorkingPrice     *float64            `json:"workingPrice"`
	BillingAddress   *string             `json:"billingAddress"`
	Business         *Flag               `json:"business"`
	Phone            *Text               `json:"phone"`
	GridOperatorName *string             `json:"gridOperatorName"`
	GridOperatorCode *Text               `json:"gridOperatorCode"`
	Registers        json.RawMessage     `json:"registers"`
	ErpUrls          []*ErpURL           `json:"erpUrls"`
	RawData          json.RawMessage     `json:"rawData"`
	AgentPreview     []*AgentPreviewItem `json:"agentPreview"`
	TabPreview       *TabPreview         `json:"tabPreview"`
	Issues
}

// ErpURL links a contract to the ERP system that holds it.
type ErpURL struct {
	URL  *string `json:"url"`
	Logo *string `json:"logo"`
	Issues
}

// AgentPreviewItem is one label/value line an agent sees about a contract.
type AgentPreviewItem struct {
	Label   *string `json:"label"`
	Value   *Text   `json:"value"`
	Tooltip *string `json:"tooltip"`
	URL     *string `json:"url"`
	Issues
}

// TabPreview is how a contract's tab looks in the agent desk.
type TabPreview struct {
	Color *string `json:"color"`
	Icon  *string `json:"icon"`
	Issues
}

// Agent is a service agent (a person or an AI agent) in the upstream.
type Agent struct {
	ID         *ID     `json:"id"`
	FirstName  *string `json:"firstName"`
	LastName   *string `json:"lastName"`
	Email      *string `json:"email"`
	Phone      *Text   `json:"phone"`
	LastSeen   *Time   `json:"lastSeen"`
	Type       *string `json:"type"`
	IsSsoOnly  *Flag   `json:"isSsoOnly"`
	Lang       *string `json:"lang"`
	NameAlias  *string `json:"nameAlias"`
	ExternalID *ID     `json:"externalId"`
	Issues
}

// Attachment is a file attached to a ticket.
type Attachment struct {
	ID               *ID             `json:"id"`
	URL              *string         `json:"url"`
	Name             *string         `json:"name"`
	Size             *float64        `json:"size"`
	Width            *int            `json:"width"`
	Height           *int            `json:"height"`
	Inline           *Flag           `json:"inline"`
	FileEnding       *string         `json:"fileEnding"`
	ContentType      *string         `json:"contentType"`
	OriginalURL      *string         `json:"originalUrl"`
	ExtractedData    json.RawMessage `json:"extractedData"`
	ExtractionStatus *string         `json:"extractionStatus"`
	ExtractionData   json.RawMessage `json:"extractionData"`
	Issues
}

// Tag is a tag on a ticket or a customer (customer tags carry only id, name and color).
type Tag struct {
	ID               *ID             `json:"id"`
	Name             *string         `json:"name"`
	FullName         *string         `json:"fullName"`
	Parent           *ID             `json:"parent"`
	Reference        *string         `json:"reference"`
	Type             *string         `json:"type"`
	Visibility       *string         `json:"visibility"`
	Color            *string         `json:"color"`
	Properties       json.RawMessage `json:"properties"`
	Complexity       *string         `json:"complexity"`
	SLA              *int            `json:"sla"`
	Priority         *string         `json:"priority"`
	Channels         []string        `json:"channels"`
	Subchannels      []ID            `json:"subchannels"`
	RoutingRelevance *Flag           `json:"routingRelevance"`
	DetectionDetails json.RawMessage `json:"detectionDetails"`
	Assignment       []string        `json:"assignment"`
	TestCase         json.RawMessage `json:"testCase"`
	ModifiedBy       *string         `json:"modifiedBy"`
	ModifiedAt       *Time           `json:"modifiedAt"`
	Issues
}

// Intent is what the AI recognised a ticket to be about, with what it proposes and what it did.
type Intent struct {
	ID              *ID             `json:"id"`
	Code            *string         `json:"code"`
	Name            *string         `json:"name"`
	ContractID      *ID             `json:"contractId"`
	Confidence      *float64        `json:"confidence"`
	ConfidenceColor *string         `json:"confidenceColor"`
	Verified        *Flag           `json:"verified"`
	Context         json.RawMessage `json:"context"`
	MessagePreview  *string         `json:"messagePreview"`
	Recipient       *string         `json:"recipient"`
	Data            json.RawMessage `json:"data"`
	Options         []*IntentOption `json:"options"`
	Infos           []*IntentInfo   `json:"infos"`
	ExtraInfo       json.RawMessage `json:"extraInfo"`
	Outcome         *IntentOutcome  `json:"outcome"`
	Tags            StringList      `json:"tags"`
	Issues
}

// IntentOption is one action an agent may choose for an intent.
type IntentOption struct {
	Type        *string `json:"type"`
	Name        *string `json:"name"`
	Icon        *string `json:"icon"`
	Recommended *Flag   `json:"recommended"`
	Order       *int    `json:"order"`
	Issues
}

// IntentInfo is a note the AI attached to an intent.
type IntentInfo struct {
	Code      *string `json:"code"`
	Type      *string `json:"type"`
	Message   *string `json:"message"`
	ExtraInfo *string `json:"extraInfo"`
	Issues
}

// IntentOutcome is what happened when an intent was executed.
type IntentOutcome struct {
	AiAgentID        *ID              `json:"aiAgentId"`
	Success          *Flag            `json:"success"`
	MessageLocalized *string          `json:"messageLocalized"`
	InternalData     json.RawMessage  `json:"internalData"`
	ExecutedAt       *Time            `json:"executedAt"`
	UserID           *ID              `json:"userId"`
	Sent             *Flag            `json:"sent"`
	TicketClosed     *Flag            `json:"ticketClosed"`
	Recipient        *string          `json:"recipient"`
	Message          *string          `json:"message"`
	Template         *string          `json:"template"`
	Sources          []*OutcomeSource `json:"sources"`
	TxID             *ID              `json:"txId"`
	Issues
}

// OutcomeSource is a knowledge source an outcome's answer drew on.
type OutcomeSource struct {
	Type *string `json:"type"`
	ID   *ID     `json:"id"`
	Name *string `json:"name"`
	URL  *string `json:"url"`
	Text *string `json:"text"`
	Issues
}
