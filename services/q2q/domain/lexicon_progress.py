"""Lexicon rules for language comfort and the employability signals."""

from __future__ import annotations

from services.q2q.domain.rules import CANT, DONT, LANGUAGE, Rule, rules
from services.q2q.domain.taxonomy import Label

L = Label
_JOB = r"(?:jobs?|positions?|roles?|vacanc\w*|work|companies|employers|internships?)"

LANGUAGE_COMFORT: list[Rule] = [
    *rules(
        L.LANGUAGE_COMFORT_HIGH,
        "speaks or understands with ease",
        "(?:can|could) (?:now )?(?:speak|talk|communicate|understand|follow) ~ "
        "(?:without (?:any )?(?:problems?|difficult*|help)|easily|fluently|very well)",
        "(?:now (?:i|he|she|we) can|can now) (?:speak|talk|communicate)",
        "fluent*",
        LANGUAGE + " is (?:really |very |so |much |now )?(?:good|great|excellent|fluent)",
        "(?:understand|understood) ~ (?:everything|each other|all of it)",
        "conversation (?:flowed|went|goes|flows) (?:easily|smoothly|naturally)",
        "(?:comfortable|confident|confidant) (?:speaking|talking|presenting|to speak|to talk)",
        "(?:spoke|speaks|speak|talked) " + LANGUAGE + " the whole (?:session|time|conversation)",
        "without switching to",
        "(?:much|a lot|far) easier to (?:understand|follow|speak)",
        negated=L.LANGUAGE_COMFORT_LOW,
    ),
    *rules(
        L.LANGUAGE_COMFORT_MEDIUM,
        "partial or improving language",
        "(?:understand*|follow*) (?:most|some|more|a lot|half|simple)",
        "(?:make|made|making|makes) (?:some |a few |many |a lot of )?mistakes (?:when|while) ~ (?:speak*|talk*)",
        "(?:speak*|talk*) ~ even if (?:i|he|she|we) (?:make|makes) mistakes",
        "(?:improving|getting better|better and better|progress*) ~ (?:" + LANGUAGE + "|speaking)",
        "(?:" + LANGUAGE + "|speaking) ~ (?:improving|getting better|improves|improved|better)",
        "(?:if|when) (?:i|we|you|they|people) (?:speak|talk) (?:slowly|slower)",
        "(?:simple|basic|short) (?:conversations|phrases|sentences)",
        "(?:can|could) (?:now )?(?:read|write|introduce|order)",
    ),
    *rules(
        L.LANGUAGE_COMFORT_LOW,
        "struggles with the language",
        "struggl* (?:with )?(?:the )?(?:" + LANGUAGE + "|speaking|understanding)",
        "(?:hard|difficult|difficulty) (?:for (?:me|him|her) )?to (?:understand|follow|speak|express|communicate)",
        LANGUAGE + " is (?:still )?(?:very |really |so )?(?:bad|poor|weak|limited)",
        "(?:speaking|conversations?) (?:is|are) (?:still )?(?:very |really )?(?:hard|difficult)",
        "(?:people|they|he|she) (?:talk|speak|talks|speaks) (?:too |so |very )?fast",
        "forgetting (?:the )?words",
        "(?:translate|translator|translation)",
        "(?:важко зрозуміти|verstehe (?:nichts|kaum)|forstår ikke)",
        negated=L.LANGUAGE_COMFORT_MEDIUM,
    ),
    *rules(
        L.LANGUAGE_COMFORT_LOW,
        "does not understand or speak the language",
        "(?:" + DONT + "|" + CANT + ") (?:really )?(?:understand|speak|follow) ~ "
        "(?:the language|" + LANGUAGE + "|anything|a word|much)",
        "(?:" + DONT + "|" + CANT + ") (?:really )?communicate",
        "understood nothing",
        LANGUAGE + " is not good enough",
        negatable=False,
    ),
]

EMPLOYABILITY: list[Rule] = [
    *rules(
        L.JOB_SEARCH,
        "applies for or finds work",
        "appl(?:y|ied|ying|ies) ~ " + _JOB,
        "(?:sent|send*|submit*|\\d+) ~ (?:applications?|cv|cvs|resumes?|cover letters?)",
        "(?:job )?applications?",
        "job (?:search*|hunt*|ads?|offers?|postings?|listings?)",
        "(?:got|get|found|find|landed|start*) (?:a |the |an )?(?:new )?(?:job|position|internship)(?! centre| center)",
        "(?:got|have|had|get) an? (?:job )?interview",
        "interview (?:at|with|on|next)",
        "(?:for|at) (?:a|an|the) ~ (?:position|job|vacancy)",
        "looking for (?:a |an )?(?:job|work|employment)",
        "(?:search*|look*) for work",
        "first (?:day|week) (?:at|of) (?:work|the job|my job|his job|her job)",
        "(?:hired|got the job)",
        "(?:career|job) fairs?",
        yields_to=frozenset({L.INTERVIEW_PREP}),
    ),
    *rules(
        L.SKILLS_GAINED,
        "learned a skill",
        "(?:learn*|learnt) (?:how to|to use|to make|to cook|to drive|to write|to code|to program)",
        "new skills?",
        "(?:improved|improve|improving|developed|gained|built) ~ skills",
        "(?:can|could) now (?:use|make|create|build|write|cook|drive|code|program)",
        "(?:practical|professional|technical|digital|computer) skills",
        "gained (?:work )?experience",
    ),
    *rules(
        L.NETWORKING,
        "professional contacts",
        "network*",
        "linkedin",
        "(?:connected|connect*|introduced|introduc*) (?:me|him|her|us) (?:with|to) ~ "
        "(?:people|colleagues?|professionals?|someone|employ*|recruit*|contacts?)",
        "(?:met|meet|meeting|talked to|spoke to|speak to) ~ (?:people|professionals|employers|recruiters|someone) "
        "from ~ (?:company|industry|field|sector|department)",
        "(?:talked|spoke|speak*|talk*) (?:to|with) ~ (?:employers|recruiters|professionals|managers)",
        "(?:career|job) fairs?",
        "contacts in",
    ),
    *rules(
        L.RESUME_IMPROVEMENT,
        "works on a CV or profile",
        "(?:cv|cvs|r[eé]sum[eé]s?|curriculum vitae|cover letters?)",
        "linkedin profile",
        yields_to=frozenset({L.JOB_SEARCH}),
    ),
    *rules(
        L.INTERVIEW_PREP,
        "prepares for interviews",
        "(?:mock|practi[cs]*|prepar*|rehears*|train*) ~ interviews?",
        "interviews? ~ (?:practi[cs]*|prepar*)",
        "interview (?:questions|practice|training|skills|tips|preparation)",
    ),
    *rules(
        L.CERTIFICATION,
        "certificate, licence or exam",
        "certif*",
        "(?:diploma|licen[cs]e|credential|badge)s?",
        "passed ~ (?:exam|test)",
    ),
    *rules(
        L.PORTFOLIO_BUILDING,
        "builds a portfolio",
        "portfolio*",
        "(?:show|showcase|display) ~ (?:my|his|her) ~ work",
        "work samples",
        "github",
    ),
    *rules(
        L.CAREER_GOAL_SETTING,
        "career goal or plan",
        "(?:career|professional) (?:goals?|plans?|path|change)",
        "(?:want|wants|wanted|wanting|plan*|hope*|dream*|goal) ~ "
        "(?:to )?(?:become|work as|work in|study|be an?|open*|start (?:my|his|her) own)",
        "going to (?:sign up|enrol*|enroll*|study)",
        "(?:set|setting|made|make) ~ (?:goals?|a plan|plans?|step-by-step plan)",
        "dream job",
        "(?:looked|look*) at (?:universities|studies|programmes|education)",
    ),
]
