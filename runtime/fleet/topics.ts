/**
 * The fleet topic tree (DESIGN §8, §12.12): everything of a device is under
 * `openstarry/v1/<deviceId>/`: `status` (birth and will, retained), `state/<section>` (retained),
 * `evt/<kind>`, `tele/<type>`, `pub/<topic>` (what its rules publish: a subtree of their own, so
 * a rule can never write the birth, a state view or a command reply; issue 17),
 * `cmd/req/<area.verb>` (commands to it), `cmd/res/<id>` (its replies).
 */
export const ROOT = 'openstarry/v1';

export const topics = (deviceId: string) => {
  const base = `${ROOT}/${deviceId}`;
  return {
    base,
    status: `${base}/status`,
    state: (section: string) => `${base}/state/${section}`,
    evt: (kind: string) => `${base}/evt/${kind}`,
    tele: (type: string) => `${base}/tele/${type}`,
    /** `topic` is checked by the rule schema (rules/schema.ts: publishTopic) */
    pub: (topic: string) => `${base}/pub/${topic}`,
    cmdReqFilter: `${base}/cmd/req/+`,
    cmdReq: (op: string) => `${base}/cmd/req/${op}`,
    cmdResPrefix: `${base}/cmd/res/`,
    cmdRes: (id: string) => `${base}/cmd/res/${id}`,
  };
};

/** the operation named by a request topic, or undefined when the topic is not one */
export function opOfRequestTopic(deviceId: string, topic: string): string | undefined {
  const prefix = `${ROOT}/${deviceId}/cmd/req/`;
  if (!topic.startsWith(prefix)) return undefined;
  const op = topic.slice(prefix.length);
  return /^[a-z]+\.[a-z]+$/.test(op) ? op : undefined;
}
