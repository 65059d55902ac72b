-- What a shop asked of a payment besides the amount (card and installment, goods type, language, offer period,
-- cash receipt, escrow, sub-mall split, the buyer's address), as the API took it; the provider's request is built
-- from it at every checkout.
ALTER TABLE orders ADD COLUMN options jsonb;

-- The sub-mall shares a partial cancel of a split payment took back.
ALTER TABLE cancellations ADD COLUMN split jsonb;

-- A cash receipt issued for the payment (from the result or a separate notice).
ALTER TABLE orders ADD COLUMN cash_receipt_type text
    CHECK (cash_receipt_type IN ('income_deduction', 'expense_proof'));
ALTER TABLE orders ADD COLUMN cash_receipt_approval_no text;
ALTER TABLE orders ADD COLUMN cash_receipt_issued_at timestamptz;
