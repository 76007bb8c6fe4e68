-- Hand-written page queries of fretes (fallback when the pages cannot be captured).
-- Dates are relative to the dataset's reference date 2026-11-27; weights are per page view.

-- turbina: calls=1 label=GET_/monitoramento/listar
SELECT * FROM entregas_monitoradas WHERE vendedor = 'Vendedor 01' ORDER BY criado_em DESC LIMIT 20;
-- turbina: calls=7 label=GET_/monitoramento/listar
SELECT count(*) FROM entregas_monitoradas WHERE vendedor = 'Vendedor 01' AND status_finalizacao IS NULL;
-- turbina: calls=20 label=GET_/monitoramento/listar
SELECT * FROM agendamentos_entrega WHERE entrega_id = 1234 ORDER BY id;
-- turbina: calls=40 label=GET_/monitoramento/listar
SELECT count(*) FROM comentarios_nf WHERE entrega_id = 1234;
-- turbina: calls=1 label=GET_/monitoramento/exportar
SELECT * FROM entregas_monitoradas WHERE data_embarque >= '2026-08-29' AND status_finalizacao IS NULL ORDER BY data_embarque;
-- turbina: calls=500 label=GET_/monitoramento/exportar
SELECT * FROM logs_entrega WHERE entrega_id = 1234 ORDER BY id;
-- turbina: calls=500 label=GET_/monitoramento/exportar
SELECT * FROM eventos_entrega WHERE entrega_id = 1234 ORDER BY id;
-- turbina: calls=12 label=GET_/embarques/dashboard
SELECT count(*) FROM embarques WHERE status = 'ativo';
-- turbina: calls=1 label=GET_/embarques/dashboard
SELECT * FROM embarques WHERE status = 'ativo' ORDER BY data_embarque DESC LIMIT 50;
-- turbina: calls=50 label=GET_/embarques/dashboard
SELECT * FROM embarque_itens WHERE embarque_id = 77 ORDER BY id;
-- turbina: calls=50 label=GET_/embarques/dashboard
SELECT * FROM fretes WHERE embarque_id = 77 ORDER BY id;
-- turbina: calls=1 label=GET_/faturamento/relatorio
SELECT * FROM relatorio_faturamento_importado WHERE data_fatura >= '2026-10-28' AND data_fatura <= '2026-11-27' ORDER BY data_fatura DESC LIMIT 20;
-- turbina: calls=1 label=GET_/faturamento/relatorio
SELECT nome_cliente, count(*), sum(valor_total) FROM relatorio_faturamento_importado WHERE data_fatura >= '2026-10-28' GROUP BY nome_cliente;
-- turbina: calls=1 label=GET_/fretes/consulta
SELECT * FROM fretes WHERE status = 'PENDENTE' AND transportadora_id = 3 ORDER BY criado_em DESC LIMIT 50;
-- turbina: calls=1 label=GET_/pedidos/status
SELECT * FROM pedidos WHERE expedicao >= '2026-10-28' ORDER BY rota, sub_rota LIMIT 50;
-- turbina: calls=17 label=GET_/pedidos/status
SELECT count(*) FROM pedidos WHERE status = 'ABERTO';
