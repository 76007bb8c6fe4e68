-- indices_criticos.sql
-- Baseado nas queries mais lentas identificadas

-- 1. Monitoramento (exportação lenta: 2.3s)
CREATE INDEX CONCURRENTLY idx_entregas_data_embarque_vendedor 
ON entregas_monitoradas(data_embarque, vendedor) 
WHERE entregue = false;

CREATE INDEX CONCURRENTLY idx_entregas_cliente_periodo 
ON entregas_monitoradas(cliente, data_embarque) 
WHERE data_embarque >= CURRENT_DATE - INTERVAL '90 days';

-- 2. Dashboard embarques (890ms)
CREATE INDEX CONCURRENTLY idx_embarques_status_data 
ON embarques(status, data_embarque) 
WHERE status = 'ativo';

-- 3. Relatório faturamento (650ms)
CREATE INDEX CONCURRENTLY idx_faturamento_data_cliente 
ON relatorio_faturamento_importado(data_fatura, nome_cliente);

CREATE INDEX CONCURRENTLY idx_faturamento_valor_periodo 
ON relatorio_faturamento_importado(data_fatura, valor_total) 
WHERE data_fatura >= CURRENT_DATE - INTERVAL '30 days';

-- 4. Consulta fretes (520ms)
CREATE INDEX CONCURRENTLY idx_fretes_status_transportadora 
ON fretes(status, transportadora_id, criado_em);

-- 5. Status pedidos (380ms)
CREATE INDEX CONCURRENTLY idx_pedidos_status_expedicao 
ON pedidos(status, expedicao) 
WHERE expedicao >= CURRENT_DATE - INTERVAL '30 days';
