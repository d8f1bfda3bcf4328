import winston from 'winston';
import { currentRequestId } from './request-context';

export type Logger = winston.Logger;

const addRequestId = winston.format((info) => {
  const requestId = currentRequestId();
  if (requestId) info.requestId = requestId;
  return info;
});

/** Structured JSON logs on stdout; `silent` turns them off (tests). */
export function createLogger(level: string, service: string): Logger {
  return winston.createLogger({
    level: level === 'silent' ? 'error' : level,
    silent: level === 'silent',
    defaultMeta: { service },
    format: winston.format.combine(addRequestId(), winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
}
