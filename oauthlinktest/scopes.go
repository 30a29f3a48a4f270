package oauthlinktest

// mollieScopes are the OAuth scopes Mollie documents (its permissions page
// and the scopes its OpenAPI description uses in OAuth security blocks).
// Organization-token-only permissions such as clients.write are not OAuth
// scopes and are refused.
var mollieScopes = []string{
	"balances.read", "balance-reports.read", "balance-transfers.read", "balance-transfers.write",
	"business-accounts.read", "customers.read", "customers.write", "events.read",
	"external-accounts.read", "external-accounts.write", "invoices.read",
	"mandates.read", "mandates.write", "onboarding.read", "onboarding.write",
	"orders.read", "orders.write", "organizations.read", "organizations.write",
	"payment-links.read", "payment-links.write", "payments.read", "payments.write",
	"persons.read", "persons.write", "profiles.read", "profiles.write",
	"refunds.read", "refunds.write", "sales-invoices.read", "sales-invoices.write",
	"sessions.read", "sessions.write", "settlements.read",
	"shipments.read", "shipments.write", "subscriptions.read", "subscriptions.write",
	"terminals.read", "terminals.write",
	"unmatched-credit-transfers.read", "unmatched-credit-transfers.write",
	"webhooks.read", "webhooks.write",
}

// qontoScopes are the scopes Qonto documents.
var qontoScopes = []string{
	"offline_access", "openid", "organization.read",
	"membership.read", "membership.write", "attachment.read", "attachment.write",
	"internal_transfer.write", "payment.write", "supplier_invoice.read", "supplier_invoice.write",
	"client_invoices.read", "client_invoice.write", "client.read", "client.write",
	"product.read", "product.write", "request_review.read", "request_review.write",
	"request_transfers.write", "team.read", "team.write",
	"insurance_contract.read", "insurance_contract.write", "card.read", "card.write",
	"bank_account.write", "beneficiary.trust", "webhook",
	"payment_link.read", "payment_link.write", "sepa_direct_debit.read", "sepa_direct_debit.write",
	"terminal.read", "terminal.write", "subscription.read",
}

func scopeSet(custom, documented []string) map[string]bool {
	if custom == nil {
		custom = documented
	}
	m := make(map[string]bool, len(custom))
	for _, s := range custom {
		m[s] = true
	}
	return m
}
