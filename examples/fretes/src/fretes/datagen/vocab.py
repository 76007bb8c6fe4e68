"""Brazilian vocabulary for the generated data: UFs, municipios, names, companies and CNPJs."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable

# fmt: off
# Share of the freight volume per destination UF: SP-heavy, like a distributor based in SP.
UF_WEIGHTS: dict[str, float] = {
    "SP": 38.0, "MG": 10.0, "RJ": 9.0, "PR": 7.0, "RS": 6.0, "SC": 5.0, "BA": 4.0,
    "GO": 3.0, "PE": 3.0, "CE": 2.5, "ES": 2.0, "DF": 2.0, "MT": 1.5, "MS": 1.5,
    "PA": 1.5, "AM": 1.0, "MA": 1.0, "PB": 0.8, "RN": 0.8, "AL": 0.6, "PI": 0.5,
    "SE": 0.5, "RO": 0.5, "TO": 0.4, "AC": 0.2, "AP": 0.2, "RR": 0.2,
}

# The capital comes first: it gets the largest share of each UF's clients.
MUNICIPIOS: dict[str, tuple[str, ...]] = {
    "SP": ("São Paulo", "Guarulhos", "Campinas", "São Bernardo do Campo", "Santo André",
           "Osasco", "Ribeirão Preto", "Sorocaba", "São José dos Campos", "Santos",
           "Jundiaí", "Piracicaba", "Bauru", "São José do Rio Preto", "Barueri",
           "Mogi das Cruzes", "Marília", "Presidente Prudente", "Araraquara", "Limeira"),
    "MG": ("Belo Horizonte", "Uberlândia", "Contagem", "Juiz de Fora", "Betim",
           "Montes Claros", "Uberaba", "Governador Valadares", "Ipatinga", "Poços de Caldas"),
    "RJ": ("Rio de Janeiro", "Niterói", "Duque de Caxias", "Nova Iguaçu", "São Gonçalo",
           "Petrópolis", "Volta Redonda", "Campos dos Goytacazes", "Macaé"),
    "PR": ("Curitiba", "Londrina", "Maringá", "Ponta Grossa", "Cascavel", "São José dos Pinhais",
           "Foz do Iguaçu"),
    "RS": ("Porto Alegre", "Caxias do Sul", "Pelotas", "Canoas", "Santa Maria", "Novo Hamburgo",
           "Passo Fundo"),
    "SC": ("Florianópolis", "Joinville", "Blumenau", "Chapecó", "Itajaí", "Criciúma",
           "São José"),
    "BA": ("Salvador", "Feira de Santana", "Vitória da Conquista", "Camaçari", "Ilhéus",
           "Juazeiro"),
    "GO": ("Goiânia", "Aparecida de Goiânia", "Anápolis", "Rio Verde"),
    "PE": ("Recife", "Jaboatão dos Guararapes", "Olinda", "Caruaru", "Petrolina"),
    "CE": ("Fortaleza", "Caucaia", "Juazeiro do Norte", "Sobral"),
    "ES": ("Vitória", "Vila Velha", "Serra", "Cariacica", "Linhares"),
    "DF": ("Brasília", "Taguatinga", "Ceilândia"),
    "MT": ("Cuiabá", "Várzea Grande", "Rondonópolis", "Sinop"),
    "MS": ("Campo Grande", "Dourados", "Três Lagoas"),
    "PA": ("Belém", "Ananindeua", "Santarém", "Marabá"),
    "AM": ("Manaus", "Parintins", "Itacoatiara"),
    "MA": ("São Luís", "Imperatriz", "Caxias"),
    "PB": ("João Pessoa", "Campina Grande", "Patos"),
    "RN": ("Natal", "Mossoró", "Parnamirim"),
    "AL": ("Maceió", "Arapiraca"),
    "PI": ("Teresina", "Parnaíba"),
    "SE": ("Aracaju", "Lagarto"),
    "RO": ("Porto Velho", "Ji-Paraná"),
    "TO": ("Palmas", "Araguaína"),
    "AC": ("Rio Branco",),
    "AP": ("Macapá",),
    "RR": ("Boa Vista",),
}

REGIAO: dict[str, str] = {
    **dict.fromkeys(("SP", "MG", "RJ", "ES"), "SUDESTE"),
    **dict.fromkeys(("PR", "RS", "SC"), "SUL"),
    **dict.fromkeys(("GO", "DF", "MT", "MS"), "CENTRO-OESTE"),
    **dict.fromkeys(("BA", "PE", "CE", "MA", "PB", "RN", "AL", "PI", "SE"), "NORDESTE"),
    **dict.fromkeys(("PA", "AM", "RO", "TO", "AC", "AP", "RR"), "NORTE"),
}

# Transit days (min, max) from the SP distribution centre, by region.
LEAD_DAYS: dict[str, tuple[int, int]] = {
    "SP": (1, 3), "SUDESTE": (2, 5), "SUL": (3, 6), "CENTRO-OESTE": (3, 7),
    "NORDESTE": (5, 10), "NORTE": (7, 14),
}

FIRST_NAMES = (
    "Ana", "Beatriz", "Bruno", "Camila", "Carlos", "Daniel", "Eduardo", "Fernanda", "Gabriel",
    "Gustavo", "Helena", "Igor", "Juliana", "João", "José", "Larissa", "Leonardo", "Lucas",
    "Luiz", "Marcelo", "Márcia", "Maria", "Mariana", "Mateus", "Patrícia", "Paulo", "Pedro",
    "Rafael", "Renata", "Ricardo", "Rodrigo", "Sandra", "Sérgio", "Tatiane", "Thiago",
    "Vanessa", "Vinícius", "Vitor", "Wagner", "Fábio", "Antônio", "Cláudia", "Débora",
)
LAST_NAMES = (
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira",
    "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares",
    "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira",
    "Nunes", "Marques", "Machado", "Mendes", "Freitas", "Cardoso", "Ramos", "Gonçalves",
    "Santana", "Teixeira", "Araújo", "Pinto", "Monteiro", "Moura", "Cavalcanti",
)
COMPANY_KINDS = (
    "Supermercado", "Comercial", "Distribuidora", "Atacadão", "Mercearia", "Farmácia",
    "Rede", "Empório", "Casa", "Hipermercado", "Mercado", "Drogaria", "Padaria", "Armazém",
)
COMPANY_CORES = (
    "Bom Preço", "Nova Era", "São Jorge", "Boa Vista", "Paulista", "Central", "Estrela",
    "Progresso", "Vitória", "Real", "União", "Primavera", "Santa Luzia", "Ipiranga", "Aliança",
    "Horizonte", "Bandeirantes", "Sol Nascente", "Três Irmãos", "Planalto", "Vale Verde",
    "Mineiro", "Gaúcho", "Nordestino", "Litoral", "Serrano", "Império", "Família", "Econômico",
)
COMPANY_SUFFIXES = ("Ltda", "Ltda", "Ltda", "S.A.", "Eireli", "ME", "Comércio de Alimentos Ltda")
CARRIER_WORDS = (
    "Rápido", "Expresso", "Veloz", "Rodoviário", "Cargas", "Logística", "Trans", "Translog",
    "Mercúrio", "Atlântico", "Andorinha", "Fênix", "Tucano", "Jaguar", "Cometa", "Rodonaves",
    "Pioneira", "Estradas", "Águia", "Sertaneja", "Bandeirante", "Continental", "Patrus",
)
CARRIER_KINDS = ("Transportes", "Transportadora", "Logística", "Expresso", "Rodoviário")

LOG_TEXTS = (
    ("info", "Entrega incluída no monitoramento."),
    ("contato", "Contato com o cliente para confirmar recebimento."),
    ("contato", "Cliente solicitou nova data de entrega."),
    ("ocorrencia", "Transportadora informou atraso na rota."),
    ("ocorrencia", "Cliente ausente no horário combinado."),
    ("info", "Canhoto digitalizado recebido."),
    ("financeiro", "Pendência financeira aberta para análise."),
    ("info", "Previsão de entrega atualizada pela transportadora."),
)
CUSTO_TIPOS = (
    ("descarga", "Taxa de descarga cobrada pelo cliente"),
    ("reentrega", "Reentrega após tentativa frustrada"),
    ("diaria", "Diária de veículo parado no cliente"),
    ("pernoite", "Pernoite do motorista"),
    ("paletizacao", "Paletização exigida pelo recebimento"),
    ("TDE", "Taxa de dificuldade de entrega"),
    ("armazenagem", "Armazenagem na filial da transportadora"),
)
COMMENT_TEXTS = (
    "Cliente pediu entrega somente pela manhã.",
    "Conferir se o canhoto foi assinado.",
    "Transportadora não confirmou a agenda ainda.",
    "NF com divergência de quantidade, verificar.",
    "Cliente reclamou de avaria em duas caixas.",
    "Agenda confirmada por telefone.",
    "Aguardando retorno do comprador.",
    "Favor priorizar, cliente estratégico.",
)
REPLY_TEXTS = (
    "Ok, verificado.", "Já falei com a transportadora.", "Resolvido, obrigado.",
    "Vou acompanhar amanhã.", "Cliente confirmou.",
)
# fmt: on


def person_name(rng: random.Random) -> str:
    """A plausible Brazilian full name."""
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def unique_names(rng: random.Random, count: int, make: Callable[[random.Random], str]) -> list[str]:
    """``count`` distinct names from ``make(rng)``; collisions get a numeric suffix."""
    seen: set[str] = set()
    names: list[str] = []
    for _ in range(count):
        name = make(rng)
        base, n = name, 2
        while name in seen:
            name = f"{base} {n}"
            n += 1
        seen.add(name)
        names.append(name)
    return names


def company_name(rng: random.Random) -> str:
    """A client company name such as 'Supermercado Bom Preço Ltda'."""
    core = rng.choice(COMPANY_CORES) if rng.random() < 0.7 else rng.choice(LAST_NAMES)
    return f"{rng.choice(COMPANY_KINDS)} {core} {rng.choice(COMPANY_SUFFIXES)}"


def carrier_name(rng: random.Random) -> str:
    """A carrier's razao social such as 'Transportes Expresso Fênix Ltda'."""
    return (
        f"{rng.choice(CARRIER_KINDS)} {rng.choice(CARRIER_WORDS)} {rng.choice(CARRIER_WORDS)} Ltda"
    )


def cnpj(root: int, branch: int = 1) -> str:
    """Format an 8-digit root and 4-digit branch as a CNPJ with valid check digits."""
    digits = [int(c) for c in f"{root % 100_000_000:08d}{branch % 10_000:04d}"]
    for weights in ((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)):
        rest = sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
        digits.append(0 if rest < 2 else 11 - rest)
    s = "".join(map(str, digits))
    return f"{s[:2]}.{s[2:5]}.{s[5:8]}/{s[8:12]}-{s[12:]}"


def cnpj_is_valid(value: str) -> bool:
    """True when ``value`` (formatted or bare digits) has correct CNPJ check digits."""
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) != 14:
        return False
    expected = cnpj(int(digits[:8]), int(digits[8:12]))
    return "".join(c for c in expected if c.isdigit()) == digits


def username_for(name: str) -> str:
    """'João Silva' -> 'joao.silva' (ASCII, lower case, dots for spaces)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return ".".join(part.lower() for part in ascii_name.split())
