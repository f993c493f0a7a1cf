// Operations for relay-compiler, which .ci/clients/run compiles into generated/ and persists
// into generated/persisted.json: the facade serves them by doc_id from that manifest.
import { graphql } from 'relay-runtime';

export const contractTickets = graphql`
  query ContractTicketsQuery($id: ID!) {
    contract(id: $id) {
      id
      productName
      history { tickets { id createdAt status subject customer { id firstname lastname } } }
    }
  }
`;

export const contractTicketsDesk = graphql`
  query ContractTicketsDeskQuery($ids: [ID!]!) {
    contracts(ids: $ids) { id status history { tickets { id status priority } } }
  }
`;
