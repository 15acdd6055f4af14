// Every shared fixture email parsed field by field: source, product, title, date, authors, preface, key takeaways, paragraphs, links, envelope — and no newsletter chrome left in the report.
import { describe, expect, it } from 'vitest';
import { CHROME_STRINGS, parseEmail, type Report, type ReportLinkKind } from '../../src/parse/index.js';
import { fixtureNames, originalParts, readFixture } from '../support/fixtures.js';

interface Expected {
  readonly source: Report['source'];
  readonly product: string | null;
  readonly title: string;
  readonly publishedAt: string;
  readonly publishedAtSource: Report['publishedAtSource'];
  readonly authors: readonly string[];
  readonly preface: readonly string[];
  readonly paragraphCount: number;
  readonly firstParagraph: string;
  readonly lastParagraph: string;
  readonly keyTakeaways: readonly string[];
  readonly fullReport: { readonly text: string; readonly url: string } | null;
  /** The other links, in order: kind, text, url. */
  readonly otherLinks: readonly (readonly [ReportLinkKind, string, string])[];
  readonly messageId: string;
  readonly from: { readonly name: string; readonly address: string };
  readonly subject: string;
  readonly receivedAt: string;
  /** Where the report's body starts and ends in the fixture's flattened text/plain part (see "drops nothing"). */
  readonly textPart: { readonly bodyStart: string; readonly bodyEnd: string };
}

// Read from the fixtures themselves (their HTML and the text/plain part Constant Contact flattens
// onto one line). ROCA 2024-01-26 has no date line in its body: its date is the Date header,
// "Fri, 26 Jan 2024 21:57:33 -0500", to the minute, in US Eastern time (EST).
const EXPECTED: Record<string, Expected> = {
  'isw-iran-update-2025-05-14.eml': {
    source: 'isw',
    product: 'Iran Update',
    title: 'Iran Update, May 14, 2025',
    publishedAt: '2025-05-14T17:50:00-04:00',
    publishedAtSource: 'body',
    authors: ['Jordan Hale', 'Leila Navid', 'Marcus Trent', 'Dana Whitfield'],
    preface: [
      'Information Cutoff: 2:00 pm ET',
      'The Iran Update is a joint product of the Institute for the Study of War (ISW) and the Critical Threats Project (CTP) at the American Enterprise Institute. It examines Iranian and Iranian-backed activity that threatens regional stability and US forces and interests, and it is published each weekday.',
    ],
    paragraphCount: 3,
    firstParagraph:
      'Iranian officials are signaling continued interest in nuclear talks with the United States while publicly ruling out any agreement that would end uranium enrichment inside Iran. A senior Iranian diplomat told regime-affiliated media that Tehran would “not bargain away” enrichment and described it as a national right. The statement is consistent with Iran’s long-standing public position and suggests that Tehran seeks sanctions relief without accepting meaningful limits on its nuclear program. CTP-ISW cannot independently verify the status of the talks.',
    lastParagraph:
      'The Houthis claimed a drone attack on a commercial vessel in the Red Sea. CTP-ISW has not observed evidence that corroborates the claim. The Houthis have periodically made unverified attack claims to project strength and to sustain pressure on international shipping.',
    keyTakeaways: [
      'Iran: Iranian officials signaled continued interest in nuclear talks with the United States but publicly ruled out any agreement that would end domestic uranium enrichment.',
      'Iraq: Iranian-backed Iraqi militias continued to refrain from attacking US forces while maintaining threatening rhetoric toward the US presence in Iraq.',
      'Yemen: The Houthis claimed an attack on a commercial vessel in the Red Sea that CTP-ISW could not corroborate.',
      'Syria: Iranian-backed media continued to portray the Syrian transitional government as a threat to Shia communities, likely to justify future Iranian influence efforts in Syria.',
    ],
    fullReport: {
      text: 'Click Here to Read the Full Update',
      url: 'https://qtk4ncjab.cc.rs6.net/tn.jsp?f=0014iCaSuA9Vde6DJqInGY73qPufPx_KuW8yEbCQJK1YCQdk_lt9k1HVTN2SYekcQ1z3vWrV83JuVEYcaGsRYohnJn9_i98hfwV1sGqT-KBf0i4wlf5_UX1W3wD9gNdOz7tT1nSThC7p23oHoxZGO6Ut809knBbJIA4GOyGMOPtzC3IqFZEFBWlkyBwL9-JH2==&c=P-nmi8pH5w3ivU4OOhdiLqzeKZ3wEYP0dHteVlCbxQEUzRATJ1tf2_==&ch=wILHC-O2w_MU79vkMi31Lh7srNpFb5nIp42QjVlwILx23X9txD9_SI==',
    },
    otherLinks: [
      [
        'interactive-map',
        "Click here to view CTP-ISW's interactive map of the Middle East.",
        'https://qtk4ncjab.cc.rs6.net/tn.jsp?f=001lUhVxMxiXfXPSylPLvrPUkIYJAynUAvzE8IUpfP_D-oJbwRAjXd-ps0MrUfnZ-ViMuZ8jCuEwtK4Lk9_OSUFrw6oZ3-QvUohOJUAAtP7HSp_xp9YW_1g3mid0ysa-l084riJoyfdMad3eAx1HDdJnZAlUR1ktElNnyC6fg72no1XkFRQRkmlLDuW2bXhhB==&c=qaMY8pOlS_ISR11671shVN_yqEmzA2YBAreD4jDEr41mhhNrkt9P8E==&ch=IraMRHppIRUESUurA0XXXZVdHMUkKIP4LfRtDKFsfuzwH3qsqdUyWG==',
      ],
      [
        'related',
        'Click here to read the latest CTP-ISW special report on the Axis of Resistance.',
        'https://qtk4ncjab.cc.rs6.net/tn.jsp?f=0010UQYeAmi4GP6Dkk0iKAXgmeFCzrFtm8MDvuGrhceXWSecR80hpy73c9fRdUobpcGDGfh0N__Wy85WH-IxFXnwwD6DvVqOyd_ExO5ebC1A4rPTKEPvC8xkNwVniEOjzznO4Ze0jATC4-A62ed0ZtzfAdwnEN2W5mR88_Lx1wCSOeN-EhwZYFqeEKQkXL5ti==&c=_PopINfMgNSgdC4L67ZRGMaIvcm3BhXLduiAv-V_Kr3TwPqXLunZFF==&ch=To6eS8VDlHdJrL1gLtfsS9mM6fCDVIeZ7TF_rxPTsPZmgX3HoPcwB_==',
      ],
    ],
    messageId: '<1143651358978.1102962356512.1941276540.0.599113JL.2002@synd.ccsend.com>',
    from: { name: 'ISW Publications', address: 'publications@understandingwar.org' },
    subject: 'Iran Update, May 14, 2025',
    receivedAt: '2025-05-14T22:41:29.000Z',
    textPart: {
      bodyStart: 'Iranian officials are signaling continued interest',
      bodyEnd: 'Click Here to Read the Full Update',
    },
  },
  'isw-roca-2024-01-26.eml': {
    source: 'isw',
    product: 'Russian Offensive Campaign Assessment',
    title: 'Russian Offensive Campaign Assessment, January 26, 2024',
    publishedAt: '2024-01-26T21:57:00-05:00',
    publishedAtSource: 'header',
    authors: [
      'Riley Bailey',
      'Christina Harward',
      'Angelica Evans',
      'Grace Mappes',
      'George Barros',
      'Frederick W. Kagan',
    ],
    preface: [],
    paragraphCount: 3,
    firstParagraph:
      'The Kremlin and US officials rejected rumors about Russian President Vladimir Putin’s willingness to engage in meaningful negotiations amid continued indications from the Kremlin that Russia seeks nothing less than full Ukrainian and Western capitulation. Bloomberg reported on January 25 that two unspecified sources close to the Kremlin stated that Putin signaled to senior US officials through indirect channels that Putin is open to negotiations, including those that would provide “security arrangements” for Ukraine. Bloomberg reported that an unidentified intermediary “conveyed signals” to US officials in December 2023 that Putin may be willing to drop his insistence on Ukraine’s “neutral status” and even may ultimately abandon his opposition to Ukraine’s NATO accession. This report may refer to the same supposed backchannel communications reported by the New York Times in late December 2023 about Putin’s supposed interest in a ceasefire. Kremlin Spokesperson Dmitri Peskov denied Bloomberg’s report on January 26, stating that reports about Russian readiness to give up its demands that Ukraine not join NATO are incorrect” and “untrue.” Bloomberg reported that US National Security Council Spokesperson Adrienne Watson stated that US officials are not aware of these alleged overtures, and US Secretary of State Antony Blinken stated on January 19 that he does not see any indication that Putin is serious about looking for a way to end the fighting in Ukraine.',
    lastParagraph:
      'Russian demands for Ukrainian “neutrality” and a moratorium on NATO expansion have always been and continue to be one of Putin’s central justifications for his invasion of Ukraine, and any hypothetical concession on these demands would represent a major strategic and rhetorical retreat on Putin’s behalf that Putin is extremely unlikely to be considering at this time. Russian calls for Ukrainian “neutrality” are demands that Ukraine amend its constitution to remove commitments to seeking NATO membership and to commit itself permanently not to join NATO or the European Union (EU). Demands for this ”neutral status” are a nested goal within Putin’s decades-long effort to demand changes to the NATO alliance that would weaken the alliance to the point where it would be unable to deter or defeat future Russian aggression in eastern Europe. Putin has long highlighted a permanent moratorium on NATO expansion as one of those goals, which would require a change in NATO’s charter that would, in turn, require a new treaty between member states and effectively grant Russia a veto over future NATO membership. Any Kremlin concessions on these demands would also amount to a significant Russian defeat, as Putin has increasingly used public appearances to reiterate that the invasion’s initial objectives remain the same and to frame the war in Ukraine as a larger geopolitical confrontation with the collective West. These concessions would also be inconsistent with the Kremlin’s apparent growing public confidence about Russian prospects in Ukraine and the attainability of Putin’s maximalist war objectives. Putin is highly unlikely to offer these concessions as he will not stop pursuing his objective to control Ukraine and weaken NATO, barring a decisive defeat.',
    keyTakeaways: [
      'The Kremlin and US officials rejected rumors about Russian President Vladimir Putin’s willingness to engage in meaningful negotiations amid continued indications from the Kremlin that Russia seeks nothing less than full Ukrainian and Western capitulation.',
      'Russian demands for Ukrainian “neutrality” and a moratorium on NATO expansion have always been and continue to be one of Putin’s central justifications for his invasion of Ukraine, and any hypothetical concession on these demands would represent a major strategic and rhetorical retreat on Putin’s behalf that Putin is extremely unlikely to be considering at this time.',
      'Russian President Vladimir Putin reiterated boilerplate Kremlin narratives that blame Ukraine for the war while also highlighting Russian forces in the Soledar direction.',
      'The circumstances of the January 24 crash of a Russian Il-76 military transport aircraft in Belgorod Oblast remain unclear.',
      'The European Union (EU) will provide Ukraine with an additional five billion euros to meet “urgent military needs” in the near future.',
      'The Russian Ministry of Defense (MoD) continues efforts to expand Russia’s influence and subsume previous Wagner Group operations in Africa.',
      'Russia reportedly imported $1.7 billion worth of advanced microchips and semiconductors in 2023, primarily from the West, skirting Western sanctions intended to deprive Russia of such technology.',
      'Russian forces advanced near Avdiivka amid continued positional engagements throughout the theater.',
      'Elements of Moscow Mayor Sergei Sobyanin’s alleged personal private military company (PMC) may have deployed to Ukraine.',
      'Russian opposition media reported on January 26 that Viktor Filonov, a Russian soldier in the 234th Airborne Regiment (76th VDV Division) serving in Ukraine, adopted a Ukrainian child from occupied Donetsk Oblast.',
    ],
    fullReport: {
      text: 'Click here to read the full assessment.',
      url: 'https://r20.rs6.net/tn.jsp?f=001IkPnVR-mAF3bLKdoqim5ONFim621ucjsturJUN8QRJcw6jkg1I6VVV3o1cBIrQHDB3IfsoLchWKF4XfzepRXSncjPWIVNt0idt1Y0ceY_3L85CA9uNQvvzq7fDuhDSe7g3hdV5wusT57s_JC7iHcpzsVsBKyfUGn_77z5p48JLkS3VJ10nM8Rw2tJVQshL==&c=66IJci42A31Zb96G5ftN_dykA3ZeLZecLOj9CSRT8S16YWG2rW1Y_B==&ch=1zleVPnnexkT2LZdI724bEMUrRCEfyycVlECMQSNYxDV8BeWbs9GLq==',
    },
    otherLinks: [
      [
        'interactive-map',
        "Click here to see ISW's interactive map of the Russian invasion of Ukraine. This map is updated daily alongside the static maps present in this report.",
        'https://r20.rs6.net/tn.jsp?f=001rnnSBQfZdG3IznGbhykvLVmgSpizd1C4c56X14R4hqOl9_rs2l782zlVbmYamuBkjCU7M0boEiAqxGpgc6UO039qcefZSuD8O2eZZEV4akC0e_AE39XcEbCKcoHy0ToliD6KXq9wNA7tvc-EXUziDYIzBTFqFBEVOkVZzA1kpsK5hgbU6VXpRPwikIznkg==&c=ZJbx1ovuoYp9yZXUDePkylCdEyRq9y9X5nmAN5EkGELp1bi1dc4dCY==&ch=1tRedRc02UvWFjVIlKWWEvoygSULOtInX9fDzl9X9n7bodz9deP0OZ==',
      ],
      [
        'interactive-map',
        'Click here to see ISW’s 3D control-of-terrain topographic map of Ukraine. The use of a computer (not a mobile device) is strongly recommended for accessing this data-heavy tool.',
        'https://r20.rs6.net/tn.jsp?f=00128wQvywwbMkc7S-5ofglup44_70-L8x2o-pSO8jLZXz6EAWCk0Pae1XVOJ-1UnYU7vqdYLMfjRYBTa2k_iYUpO5onFpDFh5zpTLNqpoPwiNTbjsINJuTEa8_m2bU4H2vKGhQ__g78b3eFe5bpwy2am4FteYVy5gBXGxYaMP3ZpoC99M8Suc21NRD9hWJgY==&c=vTitLctk64FRDaJ_Ni6hbwA2QZpbKRtQv6JQCZArq1i9xyLEVRa8zV==&ch=GazajbIr9kBAiQdAvKtgAktme1q-gyYSoIfP3mQFahkYdUtO6dYb4J==',
      ],
      [
        'interactive-map',
        'Click here to access ISW’s archive of interactive time-lapse maps of the Russian invasion of Ukraine. These maps complement the static control-of-terrain maps that ISW produces daily by showing a dynamic frontline.',
        'https://r20.rs6.net/tn.jsp?f=0011VHEyeA-ViP-sgPArl3C2mlCYtFlr5oWBqo0nMxU8GMuJsx1gYzWrJ-52HT_HCuVtQAZVRrYQQ2NGNLNGCaQWtRkCP1KiVjsTAOqdd6WhbDjvCsJWfcwjCrCHcncvdLq798DO2Lmf2xJZzflLdXPEeViNmOLuaM9RjY8Uc3-kajKfUGqHQ7b0PCy4wkgQT==&c=CGRrmam7cWFeY0QCyKynVyKFntDkqDN9DQ3cpDHJu8LF5Z90zFjqDA==&ch=9cqUhmJYBCrT_5U9uBjBkXrq7xAbBsoKS6-hO4eIjhLDITWMwvAVex==',
      ],
    ],
    messageId: '<1141186378334.1102962356512.1941916581.0.786813JL.2002@synd.ccsend.com>',
    from: { name: 'ISW Publications', address: 'publications@understandingwar.org' },
    subject: 'Russian Offensive Campaign Assessment, January 26, 2024',
    receivedAt: '2024-01-27T02:57:35.000Z',
    textPart: {
      bodyStart: 'The Kremlin and US officials rejected rumors',
      bodyEnd: 'Click here to read the full assessment.',
    },
  },
  'isw-roca-2025-03-02.eml': {
    source: 'isw',
    product: 'Russian Offensive Campaign Assessment',
    title: 'Russian Offensive Campaign Assessment, March 2, 2025',
    publishedAt: '2025-03-02T19:45:00-05:00',
    publishedAtSource: 'body',
    authors: [
      'Christina Harward',
      'Angelica Evans',
      'Grace Mappes',
      'Olivia Gibson',
      'Frederick W. Kagan',
      'William Runkel',
    ],
    preface: [],
    paragraphCount: 4,
    firstParagraph:
      'Recent Russian official statements in response to the proposed US-Ukraine mineral deal indicate that the Kremlin is trying to sabotage the deal through narratives targeting Ukrainian and American audiences. The Kremlin is claiming that this mineral deal does not benefit Ukraine while also claiming that Russia can make a better offer to the United States, indicating that Moscow sees the deal as harmful to its objectives. Kremlin Spokesperson Dmitry Peskov responded on February 23 to a question about the US-Ukraine mineral deal and whether US pressure would push Ukrainian President Volodymyr Zelensky to "finally sell out all of Ukraine," including Russia\'s illegally annexed territories in Ukraine. Peskov claimed that the people in occupied Ukraine decided "long ago" that they wanted to join Russia so "no one will ever sell off these territories" — implying that Zelensky may "sell out" other areas of Ukraine. Russian state television evening news program Vesti claimed on February 24 that the United States is "blackmailing" Ukraine with the mineral deal. A Kremlin-affiliated Russian milblogger claimed on February 22 that "there is nothing good for Kyiv" in a new version of the US-Ukraine mineral deal. The milblogger claimed that the mineral deal is "humiliating" for Ukraine and that Zelensky would be "selling the benefits of his country for nothing" should he sign the deal.',
    lastParagraph:
      "The Kremlin has a vested interest in preventing the United States and Ukraine from signing a mineral deal, as the deal will commit the United States to a long-term investment in Ukraine and Ukraine's sovereignty. The Kremlin is investing significant time and effort into undermining and misrepresenting the US-Ukrainian mineral deal, indicating that the Kremlin views the deal as an impediment to accomplishing Russian President Vladimir Putin's objectives in Ukraine. The mineral deal, even one that does not include text about an American security guarantees for Ukraine, will represent a long-term US economic investment in Ukraine and could be a building block towards additional US assistance or military sales to Ukraine in the future, as US Secretary of the Treasury Scott Bessent observed in an interview to CBS on March 2. Any agreement that ties the United States to an independent and sovereign Ukraine is contrary to Russia's long-term goals of isolating and conquering Ukraine. Putin likely assesses that preventing the US-Ukrainian mineral deal is a necessary step towards pushing the United States into stopping military assistance to Ukraine and abandoning Ukraine altogether. Putin's articulated theory of victory in Ukraine — which assumes that Russia can continue slow, gradual advances in exchange for significant personnel and materiel losses — rests on the assumption that Russia can outlast and overcome US and European security assistance to Ukraine and Ukrainian efforts to mobilize its economy and population to support its defense. Putin is likely attempting to undermine the US-Ukrainian mineral deal in order to prevent deepening US-Ukraine ties in the hope that Russia will be able to destroy or extract significant territorial concessions from Ukraine during future negotiations before Russia's own wartime economic and force generation issues begin to significantly impede Russia ability to advance on the battlefield in 2025 and beyond.",
    keyTakeaways: [
      'Recent Russian official statements in response to the proposed US-Ukraine mineral deal indicate that the Kremlin is trying to sabotage the deal through narratives targeting Ukrainian and American audiences.',
      'The Kremlin is claiming that this mineral deal does not benefit Ukraine while also claiming that Russia can make a better offer to the United States, indicating that Moscow sees the deal as harmful to its objectives.',
      "The Kremlin has a vested interest in preventing the United States and Ukraine from signing a mineral deal, as the deal will commit the United States to a long-term investment in Ukraine and Ukraine's sovereignty.",
      "Russian Foreign Minister Sergei Lavrov is attempting to exploit discussions between the United States and the EU about the possible deployment of European peacekeeping forces to Ukraine as part of a future peace settlement in order to reinvigorate the Kremlin's demands for regime change in Ukraine.",
      'European leaders demonstrated their commitment to supporting Ukraine at a defense summit in London on March 2.',
      'Ukrainian forces recently advanced near Toretsk, and Russian forces recently advanced near Velyka Novosilka.',
    ],
    fullReport: {
      text: 'Click Here to Read the Full Report',
      url: 'https://qtk4ncjab.cc.rs6.net/tn.jsp?f=001hRJFqhoRN3y6NFsBc7-c1fsz5SFCah4_rI5s_N1PfPNcPaR8Q1DDca7AFbvZvNMNJrEzD6ZYhTFcbT7eC_c96p3DkEMtFoUPxQGCNwuxdgO8i0oadM1CFKfN3evrB-Gzv-NWEGamEnlB69dIz-xQF5s_JQ8cGt1R1MlFyr-9tJug0UP-x72GRw1cQ2rhZV==&c=AwCRI6wPvpe64kMuXFrpR-gU36NbKJIctv1w7cR5QP2IVk7p2airE1==&ch=daq6FRrRTYzr3Is5fHxdCJ44fyHali53EeaWtNx-RYZ6ZGDxEhdd-3==',
    },
    otherLinks: [
      [
        'interactive-map',
        'Click here to view our Russia-Ukraine interactive maps.',
        'https://qtk4ncjab.cc.rs6.net/tn.jsp?f=001sZ-TNBySaWYTFJw_wQXkmMknkVTVNfdTyrFdkWvmnn9myMUvQeQIjMc9PVXh7Xe4J170WSRp5-iGWe5BwbhOVZKdGmziNFDaz0o983JFs6Tudnj27Fv5Wid12s9b1RS-Fx7Rsmcd0ChHpDHBN8GufR4UAbCmSQw5xZTMvWUayq5ajTpyz9q4AY-pPGQOYt==&c=ojBGi4GGIjoUdj0bLKQG3Lfti86OvI2Da3VT1dViKtHKUa35zywqat==&ch=3hqZWuA5HvrA00tP9l6ZVh9f-PM6dXhFv7xLqGmAQwhiZeq10mWdrn==',
      ],
      [
        'related',
        'Click here to view our special reports since 2024.',
        'https://qtk4ncjab.cc.rs6.net/tn.jsp?f=001L-c61-oASRxGHuZyajQTEsjl0HtvvqqWiO9txa0zHkduAAxiS7c2kcocNGbdYbvP91v-3NgEhp_xVULuEDUNZ0GSNKBVUxpbHCDjflKdSQ0KgjjaBEkhTxC_ayqMzNhdzN94WC_Na6chGwpNDFPHQekwQjOvuQnww85E5KcQzbaFH49yioIbX3GJECXs1f==&c=sI5NKK2HtKiyZbOaSbP--1eYNGpducnTH-XUqs_tZP_qW1pYipovp8==&ch=BZBRObEkHBsLbJ_sxwyR27kCgB1-U12dorHe379CyQDFbbJHbFmv1Q==',
      ],
      [
        'related',
        'Click here to read a new special report by Russia Deputy Team Lead & Analyst Karolina Hird: "Putin Deepens Russia’s Ties with US Adversaries as US-Russia Talks Begin."',
        'https://qtk4ncjab.cc.rs6.net/tn.jsp?f=001rx77oSvhU7EnaoSQ26qX0JT9XNNi9QVN9pa11DQun78iTz_y0Gtnnz0JUWUbZl-Vu9xtn8foMAGi_sWY9scrHiaQaxzPcK3dDnZBwVMoZjynU6y9rIvByTE1acosdkyk0VGOvqubD4S6Fsc223n7CNAh-u7R4ZKVRw1v-ujrWONsjbX8RZCTIQQownYIJj==&c=4RzHoN1JzyO7u1Vr99d-8MG9X1GbACdcU7S4Rpeq8Ccjb8R7hyHITF==&ch=hT8LlfivKzMSK6azgmMtxEiFTP2nnf66NSGuTJTb8X7XdL5YFfJ-zS==',
      ],
      [
        'related',
        'Click here to read a new special report from Russia Analyst Grace Mappes: "Russia Has Failed to Break Ukraine."',
        'https://qtk4ncjab.cc.rs6.net/tn.jsp?f=001I5q8zbg-ddLrT3WZg0m4rxh2evxG40cxvAWcI_TWDTn6ewYZsGag963qfdxhXazlPQp5IRmlEatqrs1yi7LzvDUN6UW9ghtY2WbPBZgMi4AdYd6RK36MqJQzyskvQF6OyFrDuKTZVbiE-OEmMqroX1ricIwPrLHnwIIKzZWS96eRidqa7mzszDZotEBAq3==&c=NTL4xQtuKo9ptrDmIuUiMwbSIIFmJSatAY3NkswG2CwHIIdakX7gIN==&ch=jwUdmhqFbwN-yvI3l2WoQD6CerPjmGu4XgkR41LJAnF5Fz3afxA-xS==',
      ],
      [
        'related',
        'Click here to read a new fact sheet on Ukraine.',
        'https://qtk4ncjab.cc.rs6.net/tn.jsp?f=0015YMB72zxQR9ccJMivjCOzSxEt7EXKe9P0G3dsydRIOadD1cv-9NFtBUUzW-XNY0RNu4z9YLaeI-9FB5IMZRH0e_zmoEzpwsYMESljcK7yRwm5_3nPejz0cqW22oi6M1jFhgjstWsau5ozLiH7OarXsD_AA_H3Ieda-GLVY8HO6-ETzw_pAQSN0mmCVkl-J==&c=Vx7KpM3cleDtivXWHdzb_PS08mVMa94OGKb3o5txSQR1zQOB8OrIC6==&ch=loAJWZQJDBAcxpSK7PMRMFAruOE2NT6_y-rOB-SYZFnAPdhNAs-pPa==',
      ],
      [
        'related',
        'Click here to read a new factsheet on the Istanbul Protocol Draft Document of April 15, 2022.',
        'https://qtk4ncjab.cc.rs6.net/tn.jsp?f=001zIWMb_KB-giTFQGrDhRoXBAePEwaV1fsfJPHGEjSo3DXV-zn_YwpxsE055ixc-b_bMm-kKITiAMdgmtCSuabWA-j-iuUINbNs-9gpwIJ3SKdn0IWvrGRCwV2R2_lsVXLMEolCIkfLwvslNLwxtWIrgO3S_z7SxLMnXYSDE2ZuMNuoMIhKeMRx5xpfdOMcw==&c=dTLEKE0mq2WAZLGQV0EIFty-28FbkRoHr_tVj9bMuqVtLiAS2Us65h==&ch=QOLDJGE-NyMz5hvxLubIETrZJfLbzioJq56pzpteMV0BopwrPo0-Cu==',
      ],
    ],
    messageId: '<1143272119938.1102962356512.1941916581.0.231018JL.2002@synd.ccsend.com>',
    from: { name: 'ISW Publications', address: 'publications@understandingwar.org' },
    subject: 'Russian Offensive Campaign Assessment, March 2, 2025',
    receivedAt: '2025-03-03T03:14:11.000Z',
    textPart: {
      bodyStart: 'Recent Russian official statements in response',
      bodyEnd: 'Click Here to Read the Full Report',
    },
  },
  'other-newsletter-2025-05-02.eml': {
    source: 'generic',
    product: 'The Eastern Europe Brief',
    title: 'Moscow grows uneasy over the U.S.-Ukraine minerals deal',
    publishedAt: '2025-05-02T07:05:00-04:00',
    publishedAtSource: 'header',
    authors: [],
    preface: [],
    paragraphCount: 27,
    firstParagraph:
      'President Donald Trump welcomes Ukraine President Volodymyr Zelenskyy to the White House in Washington on Feb. 28, 2025. (Ben Curtis/AP)',
    lastParagraph:
      '“Of course Russia could continue to fight, but there is a risk that everything could return to how it was under Biden. … If Trump has the impression that people are trying to deceive him and drag out the process without making what he views as an advantageous agreement for Russia then of course he could take the decision to ramp up [military] assistance.”',
    keyTakeaways: [],
    fullReport: null,
    otherLinks: [],
    messageId: '<1143589508027.1139517264088.1975310466.0.542875JL.2002@synd.ccsend.com>',
    from: { name: 'The Eastern Europe Brief', address: 'editor-eebrief.example.org@shared1.ccsend.com' },
    subject: 'Moscow grows uneasy over the U.S.-Ukraine minerals deal',
    receivedAt: '2025-05-02T11:05:14.000Z',
    textPart: {
      bodyStart: 'President Donald Trump welcomes Ukraine President',
      bodyEnd: 'The Eastern Europe Brief | 100 Main Street',
    },
  },
};

// Chrome seen in these fixtures beyond the parser's own list (CHROME_STRINGS): Constant Contact's
// "View as Webpage" and footer, ISW's footer links and donation text, the other newsletter's address.
const FIXTURE_CHROME: readonly string[] = [
  'View as Webpage',
  'Jobs & Internships',
  'Follow ISW',
  'Bluesky',
  'estate plans',
  'tax-deductible',
  'non-partisan, non-profit',
  'Try email marketing',
  'Trusted Email',
  'Sent by',
  'isw-inbox@example.com',
  '100 Main Street',
  'Anytown',
];

function fold(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function paragraphTexts(report: Report): string[] {
  return report.paragraphs.map((p) => (p.type === 'text' ? p.text : p.items.join(' ')));
}

/** Every chrome string found (case-insensitively) in a report's content fields, as "field: string". */
function chromeIn(report: Report): string[] {
  const fields: [string, string][] = [
    ['title', report.title],
    ['product', report.product ?? ''],
    ...report.authors.map((a): [string, string] => ['authors', a]),
    ...report.preface.map((p): [string, string] => ['preface', p]),
    ...paragraphTexts(report).map((p): [string, string] => ['paragraphs', p]),
    ...report.keyTakeaways.map((k): [string, string] => ['keyTakeaways', k]),
  ];
  const found: string[] = [];
  for (const chrome of [...CHROME_STRINGS, ...FIXTURE_CHROME]) {
    for (const [field, text] of fields) {
      if (text.toLowerCase().includes(chrome.toLowerCase())) found.push(`${field}: ${chrome}`);
    }
  }
  return found;
}

it('has expectations for every .eml in the shared fixtures directory, and no others', () => {
  expect(Object.keys(EXPECTED).sort()).toEqual(fixtureNames());
});

it('checks a chrome list that is not empty and that catches chrome when it is there', async () => {
  expect(CHROME_STRINGS.length).toBeGreaterThanOrEqual(10);
  const report = await parseEmail(readFixture('isw-roca-2025-03-02.eml'));
  const polluted: Report = {
    ...report,
    paragraphs: [
      ...report.paragraphs,
      { type: 'text', text: 'Update Profile | Constant Contact Data Notice' },
    ],
  };
  expect(chromeIn(polluted)).toEqual([
    'paragraphs: Update Profile',
    'paragraphs: Constant Contact',
    'paragraphs: Data Notice',
  ]);
});

describe.each(Object.entries(EXPECTED))('%s', (name, expected) => {
  const parsed = (): Promise<Report> => parseEmail(readFixture(name));

  it('has the source, product and title', async () => {
    const r = await parsed();
    expect(r.source).toBe(expected.source);
    expect(r.product).toBe(expected.product);
    expect(r.title).toBe(expected.title);
    expect(r.subject).toBe(expected.subject);
  });

  it('has the publication date, with the US Eastern offset of that day', async () => {
    const r = await parsed();
    expect(r.publishedAt).toBe(expected.publishedAt);
    expect(r.publishedAtSource).toBe(expected.publishedAtSource);
  });

  it('has the authors, in byline order', async () => {
    expect((await parsed()).authors).toEqual(expected.authors);
  });

  it('has the standing preface under the header', async () => {
    expect((await parsed()).preface).toEqual(expected.preface);
  });

  it('has every key takeaway, in order', async () => {
    const r = await parsed();
    expect(r.keyTakeaways).toHaveLength(expected.keyTakeaways.length);
    expect(r.keyTakeaways).toEqual(expected.keyTakeaways);
  });

  it('has the body paragraphs, first and last as written', async () => {
    const r = await parsed();
    expect(r.paragraphs).toHaveLength(expected.paragraphCount);
    expect(r.paragraphs[0]).toEqual({ type: 'text', text: expected.firstParagraph });
    expect(r.paragraphs[r.paragraphs.length - 1]).toEqual({ type: 'text', text: expected.lastParagraph });
  });

  it('drops nothing of the body: the text/plain part says the same between its first paragraph and the call to action', async () => {
    const r = await parsed();
    const { text } = originalParts(readFixture(name));
    if (text === null) throw new Error(`${name} has no text/plain part to compare with`);
    const flat = fold(text);
    const start = flat.indexOf(expected.textPart.bodyStart);
    const end = flat.indexOf(expected.textPart.bodyEnd, start);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(start);
    const takeaways = r.keyTakeaways.length > 0 ? ['Key Takeaways:', ...r.keyTakeaways] : [];
    expect(fold([...paragraphTexts(r), ...takeaways].join(' '))).toBe(flat.slice(start, end).trim());
  });

  it('has the full-report link with its text and URL as given', async () => {
    const r = await parsed();
    const full = r.links.filter((l) => l.kind === 'full-report');
    expect(full).toEqual(
      expected.fullReport === null ? [] : [{ kind: 'full-report', ...expected.fullReport }],
    );
  });

  it('has the other links (interactive maps, related reports) with their texts and URLs', async () => {
    const r = await parsed();
    const others = r.links.filter((l) => l.kind !== 'full-report').map((l) => [l.kind, l.text, l.url]);
    expect(others).toEqual(expected.otherLinks);
  });

  it('has the envelope: Message-ID, From, time received', async () => {
    const r = await parsed();
    expect(r.messageId).toBe(expected.messageId);
    expect(r.from).toEqual(expected.from);
    expect(r.receivedAt).toBe(expected.receivedAt);
    expect(r.forwardedBy).toBeNull();
    // An ISW report dated by its header says so (a layout change may have hidden the date line).
    expect(r.warnings).toEqual(
      expected.source === 'isw' && expected.publishedAtSource === 'header'
        ? ["no date line was found in the body: the report's date is the email's Date header"]
        : [],
    );
    expect(r.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps none of the newsletter chrome', async () => {
    expect(chromeIn(await parsed())).toEqual([]);
  });
});
