-- A small fretes workload for the advisor tests (weights from the hints).
-- turbina: calls=100 mean_ms=5 label=monitoramento
SELECT * FROM entregas_monitoradas WHERE entregue = false ORDER BY criado_em DESC LIMIT 20;
-- turbina: calls=300 mean_ms=2 label=monitoramento
SELECT * FROM logs_entrega WHERE entrega_id = 17;
-- turbina: calls=50 mean_ms=3 label=fretes
SELECT * FROM fretes WHERE status = 'PAGO' AND transportadora_id = 3 ORDER BY criado_em DESC LIMIT 50;
