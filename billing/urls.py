from django.urls import path

from billing import payment_views, sandbox_views, views, views_alerts, views_plans, views_statement

urlpatterns = [
    path("settings/billing/", views.billing, name="billing"),
    path("settings/billing/plan/", views_plans.plan_choose, name="billing_plan_change"),
    path("settings/billing/plan/cancel-change/", views_plans.downgrade_cancel, name="billing_downgrade_cancel"),
    path("settings/billing/mode/", views.billing_mode, name="billing_mode"),
    path("settings/billing/overage-limit/", views.overage_limit, name="billing_overage_limit"),
    path("settings/billing/statement/", views_statement.statement, name="billing_statement"),
    path("settings/billing/statement.csv", views_statement.statement_csv, name="billing_statement_csv"),
    path("settings/billing/alerts/", views.low_balance_alert, name="billing_low_balance_alert"),
    path("settings/alerts/", views_alerts.alert_preferences, name="alert_preferences"),
    path("settings/billing/invoices/", views.invoices, name="billing_invoices"),
    path("settings/billing/details/", views.billing_details, name="billing_details"),
    path("settings/billing/ledger/", views.ledger, name="billing_ledger"),
    path("settings/billing/ledger.csv", views.ledger_csv, name="billing_ledger_csv"),
    path("settings/billing/invoices/<str:number>.pdf", views.invoice_download, name="billing_invoice_pdf"),
    path("settings/billing/invoices/<str:number>/pay/", payment_views.invoice_pay, name="billing_invoice_pay"),
    path("settings/billing/credits/", payment_views.credits_buy, name="billing_credits_buy"),
    path("settings/billing/payments/<int:pk>/", payment_views.payment_detail, name="billing_payment"),
    path("settings/billing/card/", payment_views.card_add, name="billing_card_add"),
    path("settings/billing/card/saved/", payment_views.card_saved, name="billing_card_saved"),
    path("settings/billing/card/remove/", payment_views.card_delete, name="billing_card_remove"),
    path("billing/stripe/webhook/", payment_views.stripe_webhook, name="stripe_webhook"),
    path("billing/sandbox/checkout/<str:session_id>/", sandbox_views.sandbox_checkout, name="sandbox_checkout"),
    path("settings/billing/contact-sales/", views_plans.contact_sales, name="billing_contact_sales"),
    path("settings/billing/auto-recharge/", views_plans.auto_recharge, name="billing_auto_recharge"),
    path("settings/billing/plan/subscribed/", views_plans.subscription_return, name="billing_subscription_return"),
]
