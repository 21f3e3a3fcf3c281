import { ApiProperty } from '@nestjs/swagger';
import { SCOPES, type Scope } from '@conveyor/http';

/** `GET /v1/whoami`: the caller's key as the API sees it (what the console shows and hides by). */
export class WhoAmIView {
  @ApiProperty({ example: 'acme' })
  tenantId: string;

  @ApiProperty({ enum: SCOPES, isArray: true, example: ['tasks:read', 'tasks:write'] })
  scopes: Scope[];

  @ApiProperty({ example: '0190f0c2-5b1a-7c3e-9a51-3a7a9f0e1d2c' })
  keyId: string;
}
