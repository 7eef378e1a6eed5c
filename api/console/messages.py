"""What the console says, in French, when something is refused: one sentence per stable error
code (the JSON API's ``/problems/<code>``), with the figures a refusal carries for callers who may
see them. Never a value the person typed: it could be a NIR."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MESSAGES: dict[str, str] = {
    # signing in, sessions, rights
    "unauthenticated": "Connectez-vous pour continuer.",
    "invalid_key": "Cette clé d'API est inconnue ou révoquée.",
    "session_expired": "Votre session a pris fin : connectez-vous à nouveau.",
    "invalid_credentials": "L'adresse, le mot de passe ou le code de second facteur est incorrect.",
    "too_many_attempts": "Trop d'essais infructueux : réessayez dans {retry} secondes.",
    "cross_site_request": "Cette demande vient d'un autre site : elle est refusée.",
    "csrf_refused": "Le formulaire a expiré : rechargez la page et recommencez.",
    "forbidden": "Votre profil ne permet pas cette action.",
    "invalid_activation": "Ce code d'activation est inconnu, déjà utilisé ou expiré.",
    "invalid_second_factor": "Ce code ne vient pas du second facteur que vous enregistrez.",
    "enrolment_required": "Enregistrez d'abord le second facteur (code QR), puis un de ses codes.",
    "weak_password": "Ce mot de passe est trop court ou trop courant.",
    "invalid_email": "Cette adresse électronique n'est pas valide.",
    "email_already_used": "Cette adresse a déjà un compte.",
    "account_state_conflict": "Le compte n'est pas dans un état qui permet cette action.",
    "account_not_found": "Compte introuvable.",
    # not found (out of scope looks exactly the same)
    "agent_not_found": "Agent introuvable.",
    "establishment_not_found": "Établissement introuvable.",
    "user_not_found": "Utilisateur introuvable.",
    "key_not_found": "Clé introuvable.",
    "decrement_not_found": "Décrémentation introuvable.",
    "regularisation_request_not_found": "Demande de régularisation introuvable.",
    "delegation_not_found": "Délégation introuvable.",
    "deposit_not_found": "Dépôt introuvable.",
    "campaign_not_found": "Campagne introuvable.",
    "not_found": "Page introuvable.",
    # input
    "invalid_request": "La demande n'est pas valide.",
    "invalid_form": "Le formulaire n'est pas valide : vérifiez {fields}.",
    "invalid_input": "Une donnée saisie n'est pas valide.",
    "invalid_nir": "Le NIR saisi n'est pas valide (13 chiffres et sa clé).",
    "invalid_siret": "Le SIRET saisi n'est pas valide.",
    "invalid_hours": "La durée doit être un nombre d'heures entier positif, ou des jours.",
    "invalid_effective_date": "Cette date d'effet n'est pas possible.",
    "invalid_attestation_scan": "Le scan de l'attestation doit être un fichier PDF, PNG ou JPEG "
    "complet, de 5 Mio au plus.",
    "attestation_scan_altered": "Le scan conservé ne correspond plus à celui qui a été envoyé : "
    "il n'est pas montré.",
    "incomplete_attestation": "L'attestation est incomplète : il manque {missing}.",
    "empty_file": "Le fichier est vide.",
    "duplicate_line": "La même décrémentation figure plus haut dans le fichier.",
    "siret_out_of_scope": "Le SIRET de la ligne n'est pas un établissement pour lequel vous agissez.",
    "invalid_file": "Le fichier ne peut pas être lu.",
    "body_too_large": "Le fichier est trop volumineux.",
    # refused by the rules
    "insufficient_balance": "Solde insuffisant : {needed} h demandées, {available} h disponibles.",
    "anticipation_limit_exceeded": "L'anticipation dépasserait le plancher autorisé ({floor} h).",
    "anticipation_after_closure": "Le compte est clos : aucune anticipation n'est possible.",
    "account_closed": "Le compte est clos.",
    "decrement_already_cancelled": "Cette décrémentation est déjà annulée.",
    "regularisation_already_decided": "Cette demande a déjà été traitée.",
    "regularisation_too_large": "La régularisation dépasse ce que l'année permet.",
    "regularisation_above_full_year": "La régularisation dépasserait le crédit d'une année "
    "complète.",
    "idempotency_conflict": "Ce formulaire a déjà été envoyé avec d'autres valeurs : "
    "rechargez la page.",
    "delegation_conflict": "Cette délégation n'est pas dans un état qui permet cette réponse.",
    "establishment_already_registered": "Cet établissement est déjà enregistré.",
    "concurrent_update": "Le compteur a changé pendant l'enregistrement : recommencez.",
    "rebuild_running": "Une reconstruction est déjà en cours.",
    "chain_broken": "La chaîne est rompue : aucun point de contrôle n'est signé.",
    # the service itself
    "store_unavailable": "Le service est momentanément indisponible : réessayez.",
    "method_not_allowed": "Cette action n'est pas possible ici.",
    "internal_error": "Une erreur inattendue s'est produite (elle est journalisée).",
    "http_error": "La demande n'a pas abouti.",
}
FALLBACK = {
    401: "Connectez-vous pour continuer.",
    403: "Votre profil ne permet pas cette action.",
    404: "Introuvable.",
    409: "L'état actuel ne permet pas cette action.",
    422: "Une donnée saisie n'est pas valide.",
}
FIELDS = {
    "nir": "NIR",
    "birth_name": "nom de naissance",
    "first_name": "prénom",
    "siret": "SIRET",
    "hours": "heures",
    "days": "jours",
    "title": "intitulé de la formation",
    "start": "début de la formation",
    "end": "fin de la formation",
    "reference": "référence",
    "year": "année",
    "email": "adresse électronique",
    "password": "mot de passe",
    "second_factor": "code de second facteur",
    "code": "code d'activation",
    "totp": "code de second facteur",
    "reason": "motif",
    "signatory": "signataire",
    "signature_date": "date de signature",
    "scan": "scan de l'attestation",
    "file": "fichier",
    "name": "nom",
    "profile": "profil",
    "au": "date",
    "effet": "date d'effet",
    "connu": "date d'enregistrement",
}


def explain(code: str, details: Mapping[str, Any], status: int = 0) -> str:
    """The French sentence for an error code, with its figures when it carries them."""
    text = MESSAGES.get(code) or FALLBACK.get(status, "La demande a été refusée.")
    values = {k: _value(v) for k, v in details.items() if v is not None}
    try:
        return text.format(**values)
    except (KeyError, IndexError):  # figures withheld (out of scope): the sentence without them
        return text.split(":")[0].rstrip() + "."


GENERIC = frozenset({"invalid_input", "invalid_request", "domain_error"})


def reason(code: str, message: str | None) -> str:
    """A refused line's reason in French; a generic code keeps the detail that names the field
    (a field's name, never its value)."""
    text = explain(code, {}, 422)
    return f"{text.rstrip('.')} ({message})." if code in GENERIC and message else text


def field(location: Sequence[Any]) -> str:
    """A field named in French, from a validation error's location (never its value)."""
    name = str(location[-1]) if location else ""
    return FIELDS.get(name, name)


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(FIELDS.get(str(v), str(v)) for v in value)
    return str(value)
